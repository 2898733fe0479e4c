"""The configurator's editing rules (services/configurator.py): picking options, toggling
add-ons, plans, typed values, applying and clearing presets; anything the product does not
offer is refused with a coded ServiceError and the configuration given is left as it was."""

from __future__ import annotations

import copy

import pytest

from smplat.services import configurator
from smplat.services.configurator import ConfiguratorError
from smplat.services.errors import ErrorCode, ServiceError
from smplat.services.pricing import ConfigurationInvalid
from tests.catalog_factory import make_detail

pytestmark = pytest.mark.unit

START = {
    "options": {"package": ["1000"], "speed": ["standard"]},
    "add_ons": [],
    "plan": None,
    "fields": {"username": "@brand"},
    "preset": "popular",
}


def test_a_single_choice_group_takes_the_new_option_and_leaves_the_preset() -> None:
    result = configurator.choose_option(make_detail(), START, "package", "2500")
    assert result == {**START, "options": {"package": ["2500"], "speed": ["standard"]}, "preset": None}


def test_a_multiple_choice_group_toggles_an_option() -> None:
    detail = make_detail(multi=True)
    on = configurator.choose_option(detail, START, "targeting", "eu")
    both = configurator.choose_option(detail, on, "targeting", "us")
    off = configurator.choose_option(detail, both, "targeting", "eu")
    assert [c["options"]["targeting"] for c in (on, both, off)] == [["eu"], ["eu", "us"], ["us"]]


def test_add_ons_toggle_and_plans_are_chosen() -> None:
    detail = make_detail()
    on = configurator.toggle_add_on(detail, START, "priority")
    off = configurator.toggle_add_on(detail, on, "priority")
    assert (on["add_ons"], off["add_ons"], on["preset"]) == (["priority"], [], None)


def test_a_typed_value_is_kept_as_typed_and_keeps_the_preset() -> None:
    result = configurator.set_field(make_detail(), START, "drip_days", "2.5")
    # the value is the validator's to refuse (with its message beside the field), not the editor's
    assert result == {**START, "fields": {"username": "@brand", "drip_days": "2.5"}}


@pytest.mark.parametrize(
    ("label", "change", "field", "message"),
    [
        (
            "unknown option",
            lambda d, c: configurator.choose_option(d, c, "package", "999999"),
            "options",
            "That option does not exist.",
        ),
        (
            "option of another group",
            lambda d, c: configurator.choose_option(d, c, "speed", "1000"),
            "options",
            "That option does not exist.",
        ),
        (
            "unknown add-on",
            lambda d, c: configurator.toggle_add_on(d, c, "free-money"),
            "add_ons",
            "That add-on does not exist.",
        ),
        (
            "unknown plan",
            lambda d, c: configurator.choose_plan(d, c, "lifetime-free"),
            "plan",
            "That plan does not exist.",
        ),
        (
            "unknown field",
            lambda d, c: configurator.set_field(d, c, "price_minor", "1"),
            "fields",
            "That detail is not asked for this service.",
        ),
        (
            "unknown preset",
            lambda d, c: configurator.apply_preset(d, c, "free"),
            "preset",
            "That preset is not offered for this service.",
        ),
    ],
)
def test_what_the_product_does_not_offer_is_refused_with_a_code(label, change, field, message) -> None:
    given = copy.deepcopy(START)
    with pytest.raises(ConfiguratorError) as excinfo:
        change(make_detail(), given)
    assert (excinfo.value.code, excinfo.value.field, excinfo.value.message) == (ErrorCode.NOT_FOUND, field, message)
    assert isinstance(excinfo.value, ServiceError)
    assert given == START


def test_a_preset_replaces_the_choices_and_keeps_typed_values_it_does_not_set() -> None:
    detail = make_detail()
    edited = {
        "options": {"package": ["2500"], "speed": ["gradual"]},
        "add_ons": ["priority"],
        "plan": None,
        "fields": {"username": "@brand", "drip_days": "5"},
        "preset": None,
    }
    result = configurator.apply_preset(detail, edited, "popular")
    assert result == {
        "options": {"package": ["1000"], "speed": ["standard"]},
        "add_ons": [],
        "plan": None,
        "fields": {"username": "@brand", "drip_days": "5"},
        "preset": "popular",
    }


def test_a_presets_own_typed_values_win_over_the_customers() -> None:
    detail = make_detail()
    detail.presets[0].selection = {**detail.presets[0].selection, "fields": {"drip_days": "7"}}
    result = configurator.apply_preset(detail, {**START, "fields": {"username": "@b", "drip_days": "5"}}, "popular")
    assert result["fields"] == {"username": "@b", "drip_days": "7"}


def test_a_preset_that_no_longer_fits_is_refused_as_invalid() -> None:
    detail = make_detail()
    detail.presets[0].selection = {"options": {"package": 1000}}  # not an option key any more
    with pytest.raises(ConfiguratorError) as excinfo:
        configurator.apply_preset(detail, START, "popular")
    assert (excinfo.value.code, excinfo.value.field) == (ErrorCode.INVALID, "preset")
    assert excinfo.value.message == "This preset no longer fits the service; choose your options below."


def test_clearing_a_preset_keeps_its_choices_and_says_which_it_was() -> None:
    assert configurator.clear_preset(START) == ({**START, "preset": None}, "popular")
    assert configurator.clear_preset({**START, "preset": None}) == ({**START, "preset": None}, None)


def test_an_invalid_configuration_is_a_coded_service_error() -> None:
    error = ConfigurationInvalid({"fields.drip_days": "Days must be a whole number, e.g. 3."})
    assert isinstance(error, ServiceError) and isinstance(error, ValueError)
    assert (error.code, error.errors) == (
        ErrorCode.INVALID,
        {"fields.drip_days": "Days must be a whole number, e.g. 3."},
    )
