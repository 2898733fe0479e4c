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
