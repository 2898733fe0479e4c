"""Admin → provider → "Check now": a failed check is a red alert with its reason, never the green notice."""

from __future__ import annotations

import pytest

from smplat.models.accounts import Role
from smplat.ui.pages.admin.provider import ProviderDetailState
from tests.fulfillment_factory import seed_with_panel

pytestmark = pytest.mark.integration


async def test_check_now_shows_failure_as_failure_with_the_reason(session, panel, root_state, session_cookie_for):
    provider = seed_with_panel(session, panel.base_url)
    state = await root_state(
        ProviderDetailState,
        f"/admin/providers/{provider.id}",
        params={"provider_id": str(provider.id)},
        cookie=session_cookie_for(Role.OPERATOR),
    )
    # when the panel answers every call with HTTP 502
    panel.state.set_knobs(error_rate=1.0)
    await ProviderDetailState.check_now.fn(state)
    # then the red alert names the reason and the green notice stays empty
    assert state.notice == ""
    assert state.check_failed.startswith("The provider did not answer: ")
    assert state.check_failed == "The provider did not answer: the panel answered with a server error."
    # when the panel answers again, the check is green and the red alert is gone
    panel.state.set_knobs(error_rate=0.0)
    await ProviderDetailState.check_now.fn(state)
    assert (state.notice, state.check_failed) == ("Provider is healthy.", "")
