"""docs/operations.md lists every setting, so operators never meet an undocumented knob."""

import pytest

from smplat.settings import PROJECT_ROOT, Settings

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("name", list(Settings.model_fields))
def test_every_setting_is_documented(name):
    doc = (PROJECT_ROOT / "docs" / "operations.md").read_text()
    variable = {"database_url": "DATABASE_URL", "redis_url": "REDIS_URL"}.get(name, f"SMPLAT_{name.upper()}")
    assert f"`{variable}`" in doc, f"{variable} is missing from docs/operations.md"
