"""Staff and audit log in a real browser: an operator sees no provider forms and no admin-only
links; the admin gives an account the operator role on Admin → Staff, finds the change on
Admin → Audit log (filtered), and downloads the CSV export."""

from __future__ import annotations

import csv
import io

from playwright.sync_api import expect
from sqlalchemy import select

from smplat.models.accounts import Role, User
from smplat.services import accounts

PASSWORD = "violet-harbour-42"
OPERATOR = "audit.operator@example.com"
NEWCOMER = "audit.newcomer@example.com"


def _user(db, email: str, role: Role) -> None:
    if db.execute(select(User).where(User.email == email)).scalars().first() is None:
        accounts.sign_up(db, email=email, password=PASSWORD, role=role)
        db.commit()


def test_operator_sees_no_provider_forms_and_no_admin_only_links(
    browser, live_shop, db_session, output_dir, sign_in, wait_for_app
):
    _user(db_session, OPERATOR, Role.OPERATOR)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=live_shop.url)
    context.set_default_timeout(20_000)
    tab = context.new_page()
    try:
        sign_in(tab, OPERATOR, PASSWORD, "/admin/providers")
        tab.wait_for_url("**/admin/providers**")
        wait_for_app(tab)
        expect(tab.locator("#providers-table")).to_be_visible()
        expect(tab.get_by_text("Add a provider")).to_have_count(0)
        nav = tab.locator("#admin-nav")
        expect(nav.get_by_text("Providers")).to_be_visible()
        expect(nav.get_by_text("Staff")).to_have_count(0)
        expect(nav.get_by_text("Audit log")).to_have_count(0)
        tab.locator("#providers-table a").first.click()
        expect(tab.locator("#provider-services-table")).to_be_visible()
        expect(tab.get_by_text("Re-sync services")).to_be_visible()
        expect(tab.get_by_text("Save provider")).to_have_count(0)
        expect(tab.get_by_text("Import services")).to_have_count(0)
        tab.screenshot(path=str(output_dir / "screenshots" / "operator_provider_page.png"), full_page=True)
    finally:
        context.close()


def test_admin_changes_a_role_and_finds_it_in_the_audit_log(page, db_session, output_dir, sign_in, wait_for_app):
    _user(db_session, NEWCOMER, Role.CUSTOMER)
    (output_dir / "screenshots").mkdir(parents=True, exist_ok=True)
    sign_in(page, "admin@smplat.local", "admin-demo-pass", "/admin/staff")
    page.wait_for_url("**/admin/staff**")
    wait_for_app(page)
    expect(page.locator("#staff-table")).to_be_visible()
    nav = page.locator("#admin-nav")
    expect(nav.get_by_text("Audit log")).to_be_visible()
    # when the admin gives the newcomer the operator role by email
    page.locator("#staff-email").fill(NEWCOMER)
    page.locator("#staff-role").select_option("operator")
    page.get_by_role("button", name="Set role").click()
    expect(page.locator("#staff-notice")).to_contain_text(f"{NEWCOMER} is now operator")
    expect(page.locator("#staff-table")).to_contain_text(NEWCOMER)
    page.screenshot(path=str(output_dir / "screenshots" / "admin_staff_page.png"), full_page=True)
    # then the audit log shows it, also when filtered to staff actions
    nav.get_by_text("Audit log").click()
    page.wait_for_url("**/admin/audit**")
    expect(page.locator("#audit-table")).to_contain_text("staff.role")
    page.locator("#audit-action").fill("staff.")
    page.get_by_role("button", name="Filter").click()
    table = page.locator("#audit-table")
    expect(table).to_contain_text("role: customer → operator")
    expect(table).to_contain_text("admin@smplat.local")
    page.screenshot(path=str(output_dir / "screenshots" / "admin_audit_page.png"), full_page=True)
    # and the CSV export downloads the filtered rows
    with page.expect_download() as download:
        page.get_by_role("button", name="Export CSV").click()
    text = download.value.path().read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert rows and {r["action"] for r in rows} <= {"staff.role", "staff.deactivate", "staff.activate"}
    assert any(r["changes"].startswith("role: customer → operator") for r in rows)
    # a filter that matches nothing shows the empty state
    page.locator("#audit-actor").fill("nobody-at-all")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#audit-empty")).to_be_visible()
