import pytest

from smplat.services.consent import allows_analytics, has_chosen

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("value", "analytics", "chosen"),
    [
        ("all", True, True),
        ("essential", False, True),
        (None, False, False),
        ("", False, False),
        ("ALL", False, False),
        ("all; other=1", False, False),
    ],
    ids=["all", "essential", "unset", "empty", "wrong-case", "tampered"],
)
def test_only_an_explicit_yes_allows_analytics(value, analytics, chosen):
    assert allows_analytics(value) is analytics
    assert has_chosen(value) is chosen
