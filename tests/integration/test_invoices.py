"""Invoices end to end on both databases: issued where Stripe's webhook confirms the payment
(real signatures, the Stripe sandbox through the SDK), once per payment, numbered without gaps
(20 payments at once on PostgreSQL), a credit note per refund, the PDF read back with pypdf,
served only to its owner and staff, the email read back from the real SMTP sink."""

from __future__ import annotations

import io
import json
import threading
from email import policy
from email.parser import BytesParser
from pathlib import Path

import httpx
import pytest
from pypdf import PdfReader
from sqlalchemy import func, select
from starlette.testclient import TestClient

from smplat.api.app import build_api
from smplat.api.stripe_webhook import process_webhook
from smplat.db import session_scope
from smplat.models.accounts import Role, User
from smplat.models.invoices import BillingProfile, Invoice, InvoiceSequence
from smplat.models.orders import Order
from smplat.models.payments import Payment
from smplat.sandbox.smtp_sink import list_messages
from smplat.sandbox.stripe_sandbox import sign_payload
from smplat.services import accounts, carts, invoices
from smplat.services.checkout import placement, refunds
from smplat.services.errors import ErrorCode
from smplat.services.order_status import Actor
from smplat.settings import SANDBOX_STRIPE_WEBHOOK_SECRET, get_settings, reset_settings_cache

pytestmark = pytest.mark.integration

FOLLOWERS = {
    "options": {"package": "1000", "speed": "standard"},
    "add_ons": [],
    "plan": "one-time",
    "fields": {"username": "@brand"},
    "preset": "popular",
}
GERMAN_BUSINESS = {
    "name": "Ada Lovelace",
    "company": "Engines GmbH",
    "address": "Hauptstr. 1\n10115 Berlin",
    "country": "DE",
    "vat_id": "DE123456789",
}


@pytest.fixture
def shop(stripe_shop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The Stripe sandbox shop (tests/integration/conftest.py) with its own invoice folder."""
    monkeypatch.setenv("SMPLAT_INVOICE_DIR", str(tmp_path / "invoices"))
    reset_settings_cache()
    return stripe_shop


def _customer(email: str, billing: dict | None = None) -> int:
    with session_scope() as db:
        user = accounts.sign_up(db, email=email, password="violet-harbour-42", role=Role.CUSTOMER)
        if billing:
            invoices.save_billing_details(db, user.id, billing)
        return user.id


def _cookie(user_id: int) -> str:
    with session_scope() as db:
        user = db.get(User, user_id)
        return accounts.redeem_signin_ticket(db, accounts.issue_signin_ticket(db, user)).token


def _paid_event(shop, *, user_id: int | None, email: str, nonce: str, quantity: int = 1) -> dict:
    """A cart of `quantity` x 1,000 followers checked out and paid at the sandbox: its completed event."""
    token = carts.sign_guest_token(nonce)
    with session_scope() as db:
        cart = carts.get_or_create_cart(db, user_id=user_id, guest_token=None if user_id else token)
        carts.add_item(db, cart, "instagram-followers", FOLLOWERS, quantity, visitor=carts.visitor_key(token))
        cs = placement.start_checkout(
            db,
            cart,
            customer_email=email,
            user_id=user_id,
            visitor=carts.visitor_key(token),
            base_url="http://shop.test",
        )
    assert shop.pay(cs).status_code == 303
    return next(
        e for e in shop.events("checkout.session.completed") if e["data"]["object"]["id"] == cs.stripe_session_id
    )


def _deliver(event: dict):
    payload = json.dumps(event)
    return process_webhook(payload.encode(), sign_payload(payload, SANDBOX_STRIPE_WEBHOOK_SECRET))


def _count(model, *where) -> int:
    with session_scope() as db:
        return db.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def _invoice_mails(sink) -> list:
    return [m for m in list_messages(sink.mailbox_dir) if "invoice" in m.subject or "credit note" in m.subject]


def _pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_paid_order_gets_one_invoice_frozen_with_reverse_charge_and_a_pdf_email(shop) -> None:
    # given a German business customer (VAT id) and the seller in Estonia
    user_id = _customer("ada@engines.test", GERMAN_BUSINESS)
    event = _paid_event(shop, user_id=user_id, email="ada@engines.test", nonce="inv-1", quantity=2)
    # when Stripe confirms the payment, twice (a duplicated webhook)
    assert json.loads(_deliver(event).body)["status"] == "processed"
    assert json.loads(_deliver(event).body) == {"received": True, "duplicate": True}
    # then one invoice: first number of the year, reverse charge, lines and totals of the order
    with session_scope() as db:
        invoice = db.execute(select(Invoice)).scalars().one()
        order = db.get(Order, invoice.order_id)
        year = invoice.issued_at.year
        assert invoice.number == f"INV-{year}-000001"
        assert (invoice.kind, invoice.user_id, invoice.currency) == ("invoice", user_id, "EUR")
        assert (
            (invoice.net_minor, invoice.vat_minor, invoice.gross_minor)
            == (2400, 0, 2400)
            == (
                order.charged_minor,
                0,
                order.charged_minor,
            )
        )
        assert (invoice.vat_rate, invoice.reverse_charge) == ("0", True)
        assert invoice.vat_note == "Reverse charge: VAT to be accounted for by the recipient"
        assert invoice.buyer["vat_id"] == "DE123456789" and invoice.buyer["company"] == "Engines GmbH"
        assert invoice.seller["vat_id"] == get_settings().seller_vat_id
        (line,) = invoice.lines
        assert (line["quantity"], line["gross_minor"], line["net_minor"], line["vat_minor"]) == (2, 2400, 2400, 0)
        # the buyer changes their details later: the issued invoice does not move
        invoices.save_billing_details(db, user_id, {**GERMAN_BUSINESS, "company": "Renamed AG"})
    with session_scope() as db:
        assert db.execute(select(Invoice.buyer)).scalar_one()["company"] == "Engines GmbH"
    # and one email with the PDF attached, whose text is the order's
    (mail,) = _invoice_mails(shop.sink)
    assert mail.to == ["ada@engines.test"] and mail.subject.endswith(f"invoice INV-{year}-000001")
    assert "24.00" in mail.text and "/account/billing" in mail.text
    message = BytesParser(policy=policy.default).parse(mail.path.open("rb"))
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_filename() == f"INV-{year}-000001.pdf"
    text = _pdf_text(attachment.get_content())
    for expected in (
        f"INV-{year}-000001",
        order.number,
        "Engines GmbH",
        "VAT ID: DE123456789",
        get_settings().seller_name,
        f"VAT ID: {get_settings().seller_vat_id}",
        "Instagram Followers",
        "24.00 EUR",
        "Reverse charge: VAT to be accounted for by the recipient",
    ):
        assert expected in text, expected
    # the PDF lives in the private invoice folder, written once
    stored = Path(get_settings().invoice_dir) / str(year) / f"INV-{year}-000001.pdf"
    assert stored.read_bytes() == attachment.get_content()


def test_consumer_in_another_eu_country_pays_their_rate_split_half_up(shop) -> None:
    # given a consumer in Finland (25.5 %) / when their €12.00 order is paid
    user_id = _customer("sanna@example.test", {**GERMAN_BUSINESS, "company": "", "vat_id": "", "country": "FI"})
    _deliver(_paid_event(shop, user_id=user_id, email="sanna@example.test", nonce="inv-fi"))
    with session_scope() as db:
        invoice = db.execute(select(Invoice)).scalars().one()
    # then 1200 x 25.5 / 125.5 = 243.82 -> 244 VAT, 956 net
    assert (invoice.net_minor, invoice.vat_minor, invoice.gross_minor, invoice.vat_rate) == (956, 244, 1200, "25.5")
    assert invoice.reverse_charge is False and invoice.vat_note == ""


def test_pdf_is_served_to_its_owner_and_staff_and_is_not_found_for_anyone_else(shop, session_cookie_for) -> None:
    owner = _customer("owner@example.test", GERMAN_BUSINESS)
    other = _customer("other@example.test")
    _deliver(_paid_event(shop, user_id=owner, email="owner@example.test", nonce="inv-own"))
    with session_scope() as db:
        invoice_id, number = db.execute(select(Invoice.id, Invoice.number)).one()
    path = f"/api/invoices/{invoice_id}/pdf"
    cookie_name = get_settings().session_cookie_name
    client = TestClient(build_api())
    # a visitor: 401
    assert client.get(path).status_code == 401
    # another customer: 404, exactly like an id that does not exist
    client.cookies.set(cookie_name, _cookie(other))
    refused = client.get(path)
    assert (refused.status_code, refused.json()["code"]) == (404, ErrorCode.NOT_FOUND.value)
    assert client.get(f"/api/invoices/{invoice_id + 999}/pdf").json() == refused.json()
    # the owner: the PDF, as an attachment, not cached
    client.cookies.set(cookie_name, _cookie(owner))
    answer = client.get(path)
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/pdf"
    assert answer.headers["content-disposition"] == f'attachment; filename="{number}.pdf"'
    assert "no-store" in answer.headers["cache-control"]
    assert number in _pdf_text(answer.content)
    # an operator (staff) may download it too
    client.cookies.set(cookie_name, session_cookie_for(Role.OPERATOR))
    assert client.get(path).content == answer.content


def test_refund_issues_one_credit_note_per_refund_at_the_invoice_rule(shop) -> None:
    # given a paid order of a consumer in Germany (19 %)
    user_id = _customer("hans@example.test", {**GERMAN_BUSINESS, "company": "", "vat_id": ""})
    _deliver(_paid_event(shop, user_id=user_id, email="hans@example.test", nonce="inv-cn"))
    operator = Actor.operator(1, "ops@example.test")
    with session_scope() as db:
        order_id = db.execute(select(Order.id)).scalar_one()
        # when an operator refunds €5.00 through Stripe
        refunds.refund_order(db, order_id, 500, actor=operator)
    # and Stripe's charge.refunded webhook reports the same refund
    (refunded,) = shop.events("charge.refunded")
    assert json.loads(_deliver(refunded).body)["status"] == "processed"
    # then exactly one credit note, negative, at the invoice's 19 %, pointing at the invoice
    with session_scope() as db:
        original, note = db.execute(select(Invoice).order_by(Invoice.id)).scalars().all()
        year = note.issued_at.year
        assert note.number == f"CN-{year}-000001" and note.kind == "credit_note"
        assert (note.net_minor, note.vat_minor, note.gross_minor, note.vat_rate) == (-420, -80, -500, "19")
        assert note.credited_invoice_id == original.id and note.buyer == original.buyer
        refund_payment = db.get(Payment, note.payment_id)
        assert (refund_payment.kind, refund_payment.amount_minor) == ("refund", 500)
    # when the rest is refunded: a second credit note, the next number
    with session_scope() as db:
        refunds.refund_order(db, order_id, actor=operator)
    with session_scope() as db:
        numbers = db.execute(select(Invoice.number, Invoice.gross_minor).order_by(Invoice.id)).all()
    assert [tuple(n) for n in numbers] == [
        (f"INV-{year}-000001", 1200),
        (f"CN-{year}-000001", -500),
        (f"CN-{year}-000002", -700),
    ]
    credit_mails = [m for m in _invoice_mails(shop.sink) if "credit note" in m.subject]
    assert len(credit_mails) == 2
    with session_scope() as db:
        note = db.execute(select(Invoice).where(Invoice.number == f"CN-{year}-000001")).scalar_one()
        text = _pdf_text(invoices.ensure_pdf(db, note).read_bytes())
    assert "Credit note" in text and f"INV-{year}-000001" in text and "-5.00 EUR" in text


def test_renewal_invoice_is_issued_once(shop) -> None:
    user_id = _customer("sub@example.test")
    token = carts.sign_guest_token("inv-sub")
    with session_scope() as db:
        cart = carts.get_or_create_cart(db, user_id=user_id, guest_token=None)
        carts.add_item(
            db, cart, "instagram-growth-autopilot", {**FOLLOWERS, "plan": "monthly", "preset": None}, 1, visitor=None
        )
        cs = placement.start_checkout(
            db, cart, customer_email="sub@example.test", user_id=user_id, visitor=carts.visitor_key(token)
        )
    shop.pay(cs)
    (completed,) = shop.events("checkout.session.completed")
    _deliver(completed)
    sub_id = completed["data"]["object"]["subscription"]
    assert httpx.post(f"{shop.sandbox.base_url}/sandbox/subscriptions/{sub_id}/renew").status_code == 200
    (renewal,) = [
        e for e in shop.events("invoice.paid") if e["data"]["object"]["billing_reason"] == "subscription_cycle"
    ]
    _deliver(renewal)
    _deliver({**renewal, "id": renewal["id"] + "_again"})  # the same Stripe invoice under another event id
    with session_scope() as db:
        rows = db.execute(select(Invoice.number, Invoice.gross_minor, Invoice.lines).order_by(Invoice.id)).all()
    year = rows[0][0].split("-")[1]
    assert [r[0] for r in rows] == [f"INV-{year}-000001", f"INV-{year}-000002"]
    assert rows[1][1] == renewal["data"]["object"]["amount_paid"]
    assert rows[1][2][0]["description"].endswith("renewal")


def test_twenty_payments_at_once_are_numbered_without_gap_or_duplicate(shop, db_url) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("concurrent writers are a PostgreSQL case (SQLite serialises writers)")
    # given twenty paid checkouts of twenty guests
    events = [_paid_event(shop, user_id=None, email=f"g{n}@example.test", nonce=f"inv-c{n}") for n in range(20)]
    barrier = threading.Barrier(len(events))
    answers: list = [None] * len(events)

    def pay(i: int) -> None:
        barrier.wait()
        try:
            answers[i] = json.loads(_deliver(events[i]).body)
        except Exception as exc:  # pragma: no cover - shown by the assertion below
            answers[i] = exc

    # when Stripe confirms all twenty at the same moment (each its own thread and session)
    threads = [threading.Thread(target=pay, args=(i,)) for i in range(len(events))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    # then twenty orders, twenty invoices numbered 1..20 of the year: no gap, no duplicate
    assert answers == [{"received": True, "status": "processed"}] * 20
    with session_scope() as db:
        rows = db.execute(select(Invoice.year, Invoice.sequence, Invoice.number)).all()
        counter = db.execute(select(InvoiceSequence.last_number).where(InvoiceSequence.series == "INV")).scalar_one()
    year = rows[0][0]
    assert sorted(r[1] for r in rows) == list(range(1, 21))
    assert sorted(r[2] for r in rows) == [f"INV-{year}-{n:06d}" for n in range(1, 21)]
    assert counter == 20 and _count(Order) == 20


def test_billing_details_refused_change_nothing(shop) -> None:
    user_id = _customer("bad@example.test")
    with pytest.raises(invoices.InvoiceError) as refused, session_scope() as db:
        invoices.save_billing_details(db, user_id, {**GERMAN_BUSINESS, "vat_id": "DE12"})
    assert refused.value.field == "vat_id"
    assert _count(BillingProfile) == 0
    with session_scope() as db:
        assert invoices.needs_billing_details(db, user_id) is True
        invoices.save_billing_details(db, user_id, GERMAN_BUSINESS)
    with session_scope() as db:
        assert invoices.needs_billing_details(db, user_id) is False
        assert invoices.billing_details(db, user_id)["vat_id"] == "DE123456789"


def test_work_scheduled_after_commit_waits_for_the_real_commit_not_a_savepoint(db_url) -> None:
    # given an action scheduled before a savepoint is released (how an invoice email is scheduled)
    from smplat.db import after_commit

    ran: list[str] = []
    with session_scope() as db:
        after_commit(db, lambda: ran.append("sent"))
        with db.begin_nested():
            db.add(InvoiceSequence(series="T", year=2026, last_number=0))
        # then releasing the savepoint runs nothing
        assert ran == []
    # and the commit runs it once
    assert ran == ["sent"]
    # when the unit of work rolls back after a savepoint, nothing runs
    with pytest.raises(RuntimeError), session_scope() as db:
        after_commit(db, lambda: ran.append("rolled back"))
        with db.begin_nested():
            db.add(InvoiceSequence(series="U", year=2026, last_number=0))
        raise RuntimeError("the handler failed")
    assert ran == ["sent"]


def test_pdf_written_once_and_a_foreign_file_of_the_same_number_is_replaced(shop) -> None:
    # given an invoice folder reused by another database: a file already named INV-<year>-000001.pdf
    user_id = _customer("pdf@example.test", GERMAN_BUSINESS)
    event = _paid_event(shop, user_id=user_id, email="pdf@example.test", nonce="inv-pdf")
    _deliver(event)
    with session_scope() as db:
        invoice = db.execute(select(Invoice)).scalars().one()
        path = invoices.pdf_path(invoice)
        first = path.read_bytes()  # written for the email
        assert invoice.pdf_sha256 and invoice.pdf_generated_at is not None
        # when asked again it is the stored file, unchanged
        assert invoices.ensure_pdf(db, invoice).read_bytes() == first
    path.write_bytes(b"%PDF-1.4 somebody else's invoice")
    with session_scope() as db:
        invoice = db.execute(select(Invoice)).scalars().one()
        # then the foreign file is replaced by this invoice's own, byte for byte as first written
        assert invoices.ensure_pdf(db, invoice).read_bytes() == first
