"""My account → Billing, Admin → Invoices and checkout's billing question, through their
handlers as the websocket calls them: bad details are refused field by field and store
nothing; a customer sees and exports only their own invoices (formula-safe CSV); staff filter,
page and export all of them (the export audit-logged); a customer cannot load the admin list."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import func, select

from smplat.db import session_scope
from smplat.models.accounts import Role, User
from smplat.models.audit import AuditLog
from smplat.models.checkout import CheckoutSession
from smplat.models.invoices import BillingProfile
from smplat.models.orders import Order, OrderItem
from smplat.models.payments import Payment, PaymentKind, PaymentRowStatus
from smplat.sandbox.smtp_sink import SmtpSink
from smplat.services import accounts, carts, invoices
from smplat.services.seed import seed_demo
from smplat.settings import reset_settings_cache
from smplat.ui.pages.account.billing import BillingState
from smplat.ui.pages.admin.invoices import AdminInvoicesState
from smplat.ui.pages.storefront.cart import CartState

pytestmark = pytest.mark.integration

DETAILS = {
    "name": "Ada Lovelace",
    "company": "Engines GmbH",
    "address": "Hauptstr. 1\n10115 Berlin",
    "country": "DE",
    "vat_id": "DE123456789",
}


@pytest.fixture(autouse=True)
def sink(tmp_path, monkeypatch):
    """The real SMTP sink, so each issued invoice's email is delivered (and the tests stay quick)."""
    with SmtpSink("127.0.0.1", 0, tmp_path / "mailbox") as running:
        monkeypatch.setenv("SMPLAT_SMTP_PORT", str(running.port))
        monkeypatch.setenv("SMPLAT_INVOICE_DIR", str(tmp_path / "invoices"))
        reset_settings_cache()
        yield running
    reset_settings_cache()


def _count(model) -> int:
    with session_scope() as db:
        return db.execute(select(func.count()).select_from(model)).scalar_one()


def _user_id(email: str) -> int:
    with session_scope() as db:
        return db.execute(select(User.id).where(User.email == email)).scalar_one()


def _cookie(email: str) -> str:
    with session_scope() as db:
        user = accounts.sign_up(db, email=email, password="violet-harbour-42", role=Role.CUSTOMER)
        return accounts.redeem_signin_ticket(db, accounts.issue_signin_ticket(db, user)).token


def _invoiced_order(user_id: int, email: str, gross: int, title: str = "Instagram Followers") -> str:
    """A paid order of `user_id` with its charge, invoiced by the service: the invoice number."""
    with session_scope() as db:
        order = Order(user_id=user_id, customer_email=email, currency="EUR", total_minor=gross, charged_minor=gross)
        db.add(order)
        db.flush()
        db.add(OrderItem(order_id=order.id, product_title=title, quantity=1, unit_price_minor=gross, total_minor=gross))
        payment = Payment(
            order_id=order.id,
            kind=PaymentKind.CHARGE.value,
            amount_minor=gross,
            currency="EUR",
            status=PaymentRowStatus.SUCCEEDED.value,
        )
        db.add(payment)
        db.flush()
        return invoices.issue_for_order(db, order, payment).number


async def test_billing_details_are_refused_field_by_field_then_saved(db_url, root_state) -> None:
    cookie = _cookie("ada@example.test")
    state = await root_state(BillingState, "/account/billing", cookie=cookie)
    BillingState.load_billing.fn(state)
    assert (state.loaded, state.details["name"], state.rows) == (True, "", [])
    # when the details carry a malformed VAT number and no address
    BillingState.save_details.fn(state, {**DETAILS, "vat_id": "DE12", "address": ""})
    # then both fields say why, and nothing is stored
    assert set(state.errors) == {"vat_id", "address"} and state.notice == ""
    assert _count(BillingProfile) == 0
    # when corrected (keys outside the form are ignored)
    BillingState.save_details.fn(state, {**DETAILS, "vat_id": "de 123 456 789", "role": "admin"})
    assert state.errors == {} and state.notice.startswith("Your billing details are saved")
    assert state.details == {**DETAILS, "vat_id": "DE123456789"}
    with session_scope() as db:
        assert invoices.billing_details(db, _user_id("ada@example.test"))["vat_id"] == "DE123456789"


async def test_customer_lists_and_exports_only_their_invoices_formula_safe(db_url, root_state) -> None:
    cookie = _cookie("mine@example.test")
    _cookie("theirs@example.test")
    mine, theirs = _user_id("mine@example.test"), _user_id("theirs@example.test")
    with session_scope() as db:
        invoices.save_billing_details(db, mine, {**DETAILS, "company": '=HYPERLINK("http://x")'})
    first = _invoiced_order(mine, "mine@example.test", 1200)
    _invoiced_order(theirs, "theirs@example.test", 999)
    second = _invoiced_order(mine, "mine@example.test", 2400)
    state = await root_state(BillingState, "/account/billing", cookie=cookie)
    BillingState.load_billing.fn(state)
    # then only their two invoices, newest first, each with its download link
    assert [r["number"] for r in state.rows] == [second, first]
    assert state.rows[0]["download"] == f"/api/invoices/{state.rows[0]['id']}/pdf"
    assert (state.rows[1]["gross"], state.rows[1]["vat"]) == ("€12.00", "€0.00")  # reverse charge (DE business)
    # when exported
    download = BillingState.export_csv.fn(state)
    text = str(download)
    assert "invoices-" in text and ".csv" in text
    with session_scope() as db:
        exported = invoices.export_csv_for_user(db, mine)
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert [r["number"] for r in rows] == [first, second]
    assert rows[0]["buyer"] == '\'=HYPERLINK("http://x")'  # a spreadsheet shows it, never runs it
    assert (rows[0]["gross"], rows[0]["vat"], rows[0]["reverse_charge"]) == ("12.00", "0.00", "yes")


async def test_staff_filter_page_and_export_every_invoice_and_a_customer_cannot(
    db_url, root_state, session_cookie_for
) -> None:
    _cookie("buyer@example.test")
    buyer = _user_id("buyer@example.test")
    numbers = [_invoiced_order(buyer, "buyer@example.test", 1000 + n) for n in range(3)]
    # a customer: the loader refuses and loads nothing
    customer = await root_state(AdminInvoicesState, "/admin/invoices", cookie=session_cookie_for(Role.CUSTOMER))
    AdminInvoicesState.load.fn(customer)
    assert customer.rows == [] and customer.loaded is False
    # an operator: every invoice, then filtered by number
    state = await root_state(AdminInvoicesState, "/admin/invoices", cookie=session_cookie_for(Role.OPERATOR))
    AdminInvoicesState.load.fn(state)
    assert [r["number"] for r in state.rows] == list(reversed(numbers))
    AdminInvoicesState.apply_filters.fn(state, {"number": numbers[1], "customer": "", "date_from": "", "date_to": ""})
    assert [r["number"] for r in state.rows] == [numbers[1]]
    AdminInvoicesState.apply_filters.fn(state, {"number": "", "customer": "", "date_from": "2026-13-01"})
    assert state.error == "Dates look like 2026-11-30." and [r["number"] for r in state.rows] == [numbers[1]]
    AdminInvoicesState.apply_filters.fn(state, {"customer": "BUYER@example"})
    assert len(state.rows) == 3
    # when exported: the CSV, and the export in the audit log
    AdminInvoicesState.export_csv.fn(state)
    with session_scope() as db:
        logged = db.execute(select(AuditLog.action).where(AuditLog.action == "invoices.export")).scalars().all()
    assert logged == ["invoices.export"]


def test_admin_list_pages_by_keyset(db_url) -> None:
    _cookie("many@example.test")
    buyer = _user_id("many@example.test")
    numbers = [_invoiced_order(buyer, "many@example.test", 100 + n) for n in range(invoices.PAGE_SIZE + 3)]
    with session_scope() as db:
        first, cursor = invoices.admin_page(db, invoices.Filters())
        second, end = invoices.admin_page(db, invoices.Filters(), before_id=cursor)
    assert len(first) == invoices.PAGE_SIZE and [r["number"] for r in second] == list(reversed(numbers[:3]))
    assert end == 0
    assert {r["number"] for r in first} | {r["number"] for r in second} == set(numbers)


async def test_checkout_asks_a_customer_without_billing_details_and_refuses_bad_ones(db_url, shopper_state) -> None:
    # given a signed-in customer with a cart and no billing details
    with session_scope() as db:
        seed_demo(db)
    cookie = _cookie("new@example.test")
    user_id = _user_id("new@example.test")
    with session_scope() as db:
        cart = carts.get_or_create_cart(db, user_id=user_id, guest_token=None)
        carts.add_item(
            db,
            cart,
            "instagram-followers",
            {
                "options": {"package": "1000", "speed": "standard"},
                "add_ons": [],
                "plan": "one-time",
                "fields": {"username": "@brand"},
                "preset": "popular",
            },
            1,
            visitor=None,
        )
    state = await shopper_state(CartState, "/cart", session=cookie)
    CartState.load_cart.fn(state)
    assert state.needs_billing is True
    # when they check out with a VAT number of the wrong country
    CartState.start_checkout.fn(state, {**DETAILS, "vat_id": "FR12345678901"})
    # then the field says why, and neither a checkout session nor a billing profile exists
    assert set(state.billing_errors) == {"vat_id"}
    assert state.checkout_error == "Please complete your billing details for the invoice."
    assert (_count(CheckoutSession), _count(BillingProfile)) == (0, 0)
    # and a field outside the form is refused outright
    CartState.start_checkout.fn(state, {**DETAILS, "total_minor": "1"})
    assert "changed outside the shop" in state.checkout_error and _count(BillingProfile) == 0
