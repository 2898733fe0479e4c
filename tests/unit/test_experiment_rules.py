"""The admin's one-line experiment definition, parsed by the service (not the page)."""

from __future__ import annotations

import pytest

from smplat.services import experiments
from smplat.services.errors import ErrorCode, ServiceError


def test_variants_are_parsed_in_order_with_their_numbers():
    assert experiments.parse_variants(" control:List price:10000:1, lower : Ten off : 9000 : 3 ") == [
        ("control", "List price", 10000, 1),
        ("lower", "Ten off", 9000, 3),
    ]


@pytest.mark.parametrize("text", ["control, lower", "a:A:10000", "a:A:ten:1, b:B:9000:1", "a:A:1:2:3", ""])
def test_a_definition_not_in_the_format_is_refused_with_a_code_and_field(text):
    with pytest.raises(experiments.ExperimentError) as caught:
        experiments.parse_variants(text)
    error = caught.value
    assert isinstance(error, ServiceError)
    assert (error.code, error.field, error.message) == (ErrorCode.INVALID, "variants", experiments.VARIANTS_FORMAT)


# --- significance -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("control", "variant", "z", "p_value"),
    [
        # worked by hand: pooled 0.115, se 0.014267, z = 0.03 / se
        ((1000, 100), (1000, 130), 2.1027, 0.0355),
        # the same rates on ten times the visitors: far more certain
        ((10000, 1000), (10000, 1300), 6.6494, 0.0000),
        # worse, and not significant: pooled 0.095, se 0.018545
        ((500, 50), (500, 45), -0.5392, 0.5897),
        # unequal groups: pooled 440 / 2800, se 0.015225
        ((2000, 300), (800, 140), 1.6421, 0.1006),
    ],
)
def test_two_proportion_z_test_matches_known_values(control, variant, z, p_value):
    result = experiments.two_proportion_z_test(*control, *variant)
    assert result is not None
    assert result.z == pytest.approx(z, abs=1e-4)
    assert result.p_value == pytest.approx(p_value, abs=1e-4)


@pytest.mark.parametrize(
    "counts",
    [(0, 0, 100, 5), (100, 5, 0, 0), (100, 0, 100, 0), (100, 100, 100, 100), (10, 12, 100, 5), (100, -1, 100, 5)],
)
def test_z_test_is_undefined_without_visitors_variance_or_sane_counts(counts):
    assert experiments.two_proportion_z_test(*counts) is None
