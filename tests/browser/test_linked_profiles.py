"""A client links an Instagram profile and sees its follower chart with their order marked
(desktop and 390 px phone width; screenshots in test-output/screenshots/)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from smplat.models.accounts import User
from smplat.models.base import utcnow
from smplat.models.orders import OrderItem, OrderStatus
from smplat.models.profiles import LinkedProfile, ProfileSnapshot
from tests.fulfillment_factory import paid_order, product

pytestmark = [pytest.mark.browser, pytest.mark.places_orders]
HANDLE = "demo.bakery"


def test_client_links_a_profile_and_sees_the_follower_chart_with_the_order_marked(
    page, db_session, sign_in, wait_for_app, output_dir
):
    # given the demo client's completed order of 500 followers for @demo.bakery, two days ago
    client_id = db_session.execute(select(User.id).where(User.email == "client@smplat.local")).scalar_one()
    order = paid_order(
        db_session,
        [(product(db_session, "instagram-followers"), f"https://www.instagram.com/{HANDLE}/", 500, 690)],
        user_id=client_id,
        email="client@smplat.local",
    )
    item = db_session.execute(select(OrderItem).where(OrderItem.order_id == order.id)).scalars().one()
    item.status, item.updated_at = OrderStatus.COMPLETED.value, utcnow() - timedelta(days=2)
    db_session.add(item)
    db_session.commit()

    # when the client links the profile on My account → Profiles
    sign_in(page, "client@smplat.local", "client-demo-pass", "/account/profiles")
    expect(page).to_have_url(re.compile(r"/account/profiles"))
    wait_for_app(page)
    expect(page.locator("#profiles-empty")).to_be_visible()
    page.locator("#handle").fill("@" + HANDLE)
    page.get_by_role("button", name="Link profile").click()

    # then it is listed with its first numbers and its charts open
    expect(page.locator("#chart-handle")).to_have_text("@" + HANDLE)
    expect(page.locator("#profile-list")).to_contain_text("Up to date")
    expect(page.locator("#followers-chart")).to_be_visible()
    expect(page.locator("#profile-orders")).to_contain_text(order.number)

    # given a week of hourly-job snapshots around the order (the jobs process is not running here)
    db_session.rollback()
    profile = db_session.execute(select(LinkedProfile).where(LinkedProfile.handle == HANDLE)).scalars().one()
    now = utcnow()
    latest = db_session.execute(select(ProfileSnapshot.followers)).scalar_one()  # taken when it was linked
    for day, below in ((10, 580), (8, 545), (6, 540), (4, 520), (3, 350), (2, 30), (1, 12)):
        db_session.add(
            ProfileSnapshot(
                profile_id=profile.id,
                taken_at=now - timedelta(days=day),
                followers=latest - below,
                engagement_rate_bps=310 + day * 7,
            )
        )
    db_session.commit()

    # when the charts are opened again (the overview's sparkline links here)
    page.goto("/account")
    wait_for_app(page)
    expect(page.locator("#profile-sparklines")).to_contain_text("@" + HANDLE)
    page.locator("#profile-sparklines a").first.click()
    expect(page).to_have_url(re.compile(rf"/account/profiles\?profile={profile.id}"))
    wait_for_app(page)

    # then the followers line and the order's star are drawn; hovering the star names the order
    chart = page.locator("#followers-chart")
    expect(chart.locator(".scatterlayer .trace")).to_have_count(2)
    star = chart.locator(".scatterlayer .trace").nth(1).locator("path.point")
    expect(star).to_have_count(1)
    star.hover(force=True)
    expect(chart.locator(".hoverlayer")).to_contain_text(order.number)
    expect(page.locator("#engagement-chart .scatterlayer .trace")).to_have_count(1)
    expect(page.locator("#comparison-table")).to_contain_text(order.number)
    expect(page.locator("#comparison-table")).to_contain_text(
        f"{latest - 580:,}"
    )  # the last snapshot a week before completion
    shots = output_dir / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "linked_profiles_desktop.png"), full_page=True)

    # and on a 390 px phone nothing scrolls sideways
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    wait_for_app(page)
    expect(page.locator("#followers-chart .scatterlayer .trace")).to_have_count(2)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(shots / "linked_profiles_phone.png"), full_page=True)
