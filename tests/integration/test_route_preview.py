"""The admin routing preview: price, cost and margin per package, and the guardrail's
warning and hard floor, on real databases."""

from decimal import Decimal

import pytest
from sqlalchemy import select

from smplat.models.accounts import Role
from smplat.models.providers import ProviderService
from smplat.services.route_preview import product_route_preview
from smplat.services.seed import seed_demo
from smplat.ui.pages.admin.product_routing import RoutingPreviewState
from smplat.ui.state.auth import STAFF_ONLY_MESSAGE

pytestmark = pytest.mark.integration


def _set_rate(session, external_id: str, rate: str) -> None:
    service = (
        session.execute(select(ProviderService).where(ProviderService.external_service_id == external_id))
        .scalars()
        .one()
    )
    service.rate_per_1000 = Decimal(rate)
    session.commit()


def test_every_package_shows_price_cost_and_margin(session):
    seed_demo(session)
    session.commit()
    preview = product_route_preview(session, "instagram-followers")
    assert [(r["package"], r["price"], r["units"], r["cost"], r["margin"], r["verdict"]) for r in preview["rows"]] == [
        ("500 followers", "€6.90", "500", "€0.48", "93.0 %", "ok"),
        ("1,000 followers", "€12.00", "1000", "€0.95", "92.1 %", "ok"),
        ("2,500 followers", "€29.00", "2500", "€2.38", "91.8 %", "ok"),
        ("5,000 followers", "€55.00", "5000", "€4.75", "91.4 %", "ok"),
    ]
    assert (preview["warnings"], preview["blocked"]) == (0, 0)


def test_thin_margins_are_warned_and_losses_blocked(session):
    seed_demo(session)
    session.commit()
    _set_rate(session, "101", "9.00")  # 1,000 followers now cost €9.00 of €12.00: 25 % margin
    rows = {r["package"]: r for r in product_route_preview(session, "instagram-followers")["rows"]}
    assert (rows["1,000 followers"]["margin"], rows["1,000 followers"]["verdict"]) == ("25.0 %", "warning")
    assert rows["1,000 followers"]["note"] == "margin 25.0 % below 30.0 %"

    _set_rate(session, "101", "13.00")  # now a loss
    preview = product_route_preview(session, "instagram-followers")
    rows = {r["package"]: r for r in preview["rows"]}
    assert rows["1,000 followers"]["verdict"] == "blocked"
    assert "below the floor 10.0 %" in rows["1,000 followers"]["note"]
    assert preview["blocked"] == 4


def test_unknown_product_has_no_preview(session):
    assert product_route_preview(session, "no-such-product") is None


async def test_the_page_refuses_a_customer(sqlite_url, root_state, session_cookie_for):
    state = await root_state(
        RoutingPreviewState, "/admin/catalog/instagram-followers", cookie=session_cookie_for(Role.CUSTOMER)
    )
    result = state.load()
    assert STAFF_ONLY_MESSAGE in str(result)
    assert state.preview == {} and state.loaded is False
