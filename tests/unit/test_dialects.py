"""PanelDialect: presets, validation, reading stored dialects, and what answers mean."""

from __future__ import annotations

import pytest

from smplat.integrations.dialects import PRESETS, PanelDialect
from smplat.models.providers import ProviderOrderStatus as S
from smplat.models.providers import RefillStatus as R

pytestmark = pytest.mark.unit


def test_an_empty_or_legacy_stored_dialect_is_the_convention_with_its_keys_kept():
    assert PanelDialect.from_stored(None) == PRESETS["perfect_panel"]
    legacy = PanelDialect.from_stored({"note": "local sandbox", "lookup_by_ref": True, "old_key": 1})
    assert (legacy.preset, legacy.transport, legacy.lookup_by_ref, legacy.note) == (
        "perfect_panel",
        "form",
        True,
        "local sandbox",
    )


def test_a_stored_dialect_that_no_longer_validates_falls_back_to_its_preset():
    assert PanelDialect.from_stored({"preset": "strict_http", "transport": "soap"}) == PRESETS["strict_http"]


@pytest.mark.parametrize(
    "word,expected",
    [
        ("In progress", S.IN_PROGRESS),
        ("IN_PROGRESS", S.IN_PROGRESS),
        ("  in   progress ", S.IN_PROGRESS),
        ("Cancelled", S.CANCELED),
        ("canceled", S.CANCELED),
        ("Refunded", S.REFUNDED),
        ("Active", S.IN_PROGRESS),
        ("Expired", S.COMPLETED),
        ("On hold", S.UNKNOWN),
        ("", S.UNKNOWN),
        (None, S.UNKNOWN),
    ],
)
def test_status_words_are_case_insensitive_and_unknown_is_never_pending(word, expected):
    assert PRESETS["perfect_panel"].order_status(word) is expected


def test_refill_words_and_unknown_refill_words():
    dialect = PRESETS["perfect_panel"]
    assert (dialect.refill_status("Rejected"), dialect.refill_status("rejected")) == (R.REJECTED, R.REJECTED)
    assert dialect.refill_status("Queued") is None


def test_url_and_order_parameters():
    assert PRESETS["strict_http"].url("https://p.example/api/v2") == "https://p.example/api/v2/"
    assert PanelDialect(trailing_slash=False).url("https://p.example/api/v2/") == "https://p.example/api/v2"
    assert PRESETS["perfect_panel"].url("https://p.example/api/v2/") == "https://p.example/api/v2/"
    assert PRESETS["perfect_panel"].params_for("custom comments") == ["link", "comments"]
    assert PRESETS["perfect_panel"].params_for("Some New Type") == ["link", "quantity", "runs", "interval"]


def test_parse_keeps_the_preset_and_overrides_fields():
    dialect = PanelDialect.parse('{"preset": "legacy_get", "max_ids_per_call": 50}')
    assert (dialect.transport, dialect.key_param, dialect.max_ids_per_call) == ("query", "api", 50)
    with pytest.raises(ValueError, match="key_param and action_param must differ"):
        PanelDialect.parse({"key_param": "action"})
