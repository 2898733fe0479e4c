"""Invoices and credit notes: billing details, VAT, gapless numbers, the frozen document, its PDF.

- The buyer's billing profile (one per account) is validated against the VAT table
  (`settings.vat_rates_file`, a JSON data file: EU standard rates and VAT id formats).
- Prices include VAT. Each line's VAT is gross x rate / (100 + rate), rounded half-up once
  (`money.vat_included`); totals are the sums of the lines, so they always add up.
- A business buyer with a VAT id in another EU country than the seller's: reverse charge
  (0 % and the legal note). A buyer outside the EU pays no EU VAT. Otherwise the buyer
  country's rate (the seller's when the buyer's country is unknown).
- Numbers: `INV-<year>-000001` / `CN-<year>-000001`, one counter row per series and year
  moved by `UPDATE ... SET last_number = last_number + 1` (the row lock serialises issuers on
  PostgreSQL; SQLite has one writer) in a savepoint together with the document's INSERT: a
  refused INSERT rolls the counter back, so there is never a gap or a duplicate.
- One document per payment (UNIQUE invoices.payment_id): a paid order's charge, a renewal's
  invoice payment, each refund. A duplicated webhook finds the document that exists.
- The PDF (fpdf2) is written once under `settings.invoice_dir` (never a public folder) and
  served by `GET /api/invoices/<id>/pdf` to its owner and to staff only.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from smplat.db import insert_built
from smplat.models.base import utcnow
from smplat.models.invoices import BillingProfile, Invoice, InvoiceKind, InvoiceSequence
from smplat.models.orders import Order, OrderItem
from smplat.models.payments import Payment, PaymentKind, PaymentRowStatus
from smplat.services import csv_safe, permissions
from smplat.services.errors import ErrorCode, ServiceError
from smplat.services.money import exponent, format_money, to_decimal, vat_included
from smplat.settings import Settings, get_settings

logger = logging.getLogger(__name__)

SERIES = {InvoiceKind.INVOICE.value: "INV", InvoiceKind.CREDIT_NOTE.value: "CN"}
PAGE_SIZE = 50
DOWNLOAD_PATH = "/api/invoices/{id}/pdf"  # smplat/api/invoices.py serves it (owner and staff only)
BILLING_KEYS = ("name", "company", "address", "country", "vat_id")
CSV_FIELDS = (
    "number",
    "kind",
    "issued",
    "order",
    "customer_email",
    "buyer",
    "country",
    "vat_id",
    "currency",
    "net",
    "vat_rate",
    "vat",
    "gross",
    "reverse_charge",
)


class InvoiceError(ServiceError):
    default_code = ErrorCode.INVALID


# --- the VAT table ------------------------------------------------------------------------


@dataclass(frozen=True)
class Country:
    code: str
    name: str
    eu: bool
    rate: Decimal
    vat_prefix: str
    vat_pattern: str


@dataclass(frozen=True)
class VatTable:
    countries: dict[str, Country]
    reverse_charge_note: str
    outside_eu_note: str


@lru_cache(maxsize=4)
def _load_vat_table(path: str) -> VatTable:
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    countries = {
        code.upper(): Country(
            code.upper(),
            row["name"],
            bool(row["eu"]),
            Decimal(str(row["rate"])),
            row.get("vat_prefix", ""),
            row.get("vat_pattern", ""),
        )
        for code, row in raw["countries"].items()
    }
    return VatTable(countries, raw["reverse_charge_note"], raw["outside_eu_note"])


def vat_table(settings: Settings | None = None) -> VatTable:
    return _load_vat_table(str((settings or get_settings()).vat_rates_file))


def country_choices() -> list[tuple[str, str]]:
    """(code, name) of every country in the VAT table, by name: the billing form's select."""
    return sorted(((c.code, c.name) for c in vat_table().countries.values()), key=lambda pair: pair[1])


@dataclass(frozen=True)
class VatTreatment:
    rate: Decimal
    reverse_charge: bool
    note: str


def vat_treatment(buyer: dict[str, Any], settings: Settings | None = None) -> VatTreatment:
    """The VAT rule for a buyer (their frozen billing details): see the module docstring."""
    settings = settings or get_settings()
    table = vat_table(settings)
    seller = table.countries.get(settings.seller_country.upper())
    country = table.countries.get(str(buyer.get("country") or "").upper())
    if country is None:
        return VatTreatment(seller.rate if seller else Decimal(0), False, "")
    if not country.eu:
        return VatTreatment(Decimal(0), False, table.outside_eu_note)
    if buyer.get("vat_id") and seller is not None and seller.eu and country.code != seller.code:
        return VatTreatment(Decimal(0), True, table.reverse_charge_note)
    return VatTreatment(country.rate, False, "")


def rate_text(rate: Decimal) -> str:
    """ "21", "5.5", "25.5": the rate as printed and stored (exact, no float)."""
    text = format(rate.normalize(), "f")
    return text


def priced_lines(items: list[tuple[str, int, int]], rate: Decimal) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Lines (description, quantity, gross minor units incl. VAT) with their net and VAT, and
    the totals (the sums of the lines)."""
    lines = []
    for description, quantity, gross in items:
        net, vat = vat_included(gross, rate)
        lines.append(
            {
                "description": description,
                "quantity": quantity,
                "net_minor": net,
                "vat_rate": rate_text(rate),
                "vat_minor": vat,
                "gross_minor": gross,
            }
        )
    totals = {key: sum(line[key] for line in lines) for key in ("net_minor", "vat_minor", "gross_minor")}
    return lines, totals


# --- billing details ---------------------------------------------------------------------


def normalise_vat_id(raw: str) -> str:
    return re.sub(r"[\s.\-]", "", str(raw or "")).upper()


def validate_billing(values: dict[str, Any]) -> dict[str, str]:
    """The billing details as they will be stored; raises InvoiceError naming every bad field."""
    clean = {key: str(values.get(key, "") or "").strip() for key in BILLING_KEYS}
    clean["country"] = clean["country"].upper()
    clean["vat_id"] = normalise_vat_id(clean["vat_id"])
    errors: dict[str, str] = {}
    limits = {"name": 200, "company": 200, "address": 500}
    if not clean["name"]:
        errors["name"] = "Enter the name the invoices are made out to."
    if not clean["address"]:
        errors["address"] = "Enter the billing address (street, postcode and city)."
    for key, limit in limits.items():
        if len(clean[key]) > limit:
            errors[key] = f"Keep it under {limit} characters."
    country = vat_table().countries.get(clean["country"])
    if country is None:
        errors["country"] = "Choose your country from the list."
    if clean["vat_id"]:
        if not clean["company"]:
            errors["company"] = "A VAT number belongs to a company: enter its name."
        if country is not None:
            if not country.vat_prefix:
                errors["vat_id"] = f"Businesses in {country.name} have no VAT number we can use; leave it empty."
            elif not (
                clean["vat_id"].startswith(country.vat_prefix)
                and re.fullmatch(country.vat_pattern, clean["vat_id"][len(country.vat_prefix) :])
            ):
                errors["vat_id"] = (
                    f"That is not a {country.name} VAT number: it starts with {country.vat_prefix} "
                    "followed by its digits, e.g. as printed on your company's VAT registration."
                )
    if errors:
        first = next(iter(errors))
        raise InvoiceError(errors[first], field=first, errors=errors)
    return clean


def billing_profile(session: Session, user_id: int) -> BillingProfile | None:
    return session.execute(select(BillingProfile).where(BillingProfile.user_id == user_id)).scalars().first()


_BILLING_DETAILS = select(*(getattr(BillingProfile, key) for key in BILLING_KEYS)).where(
    BillingProfile.user_id == bindparam("b_user_id")
)


def billing_details(session: Session, user_id: int) -> dict[str, str]:
    row = session.execute(_BILLING_DETAILS, {"b_user_id": user_id}).first()
    return dict(zip(BILLING_KEYS, row, strict=True)) if row else dict.fromkeys(BILLING_KEYS, "")


def needs_billing_details(session: Session, user_id: int | None) -> bool:
    """Whether checkout must ask this account for its billing details first."""
    return bool(user_id) and billing_profile(session, user_id) is None


def save_billing_details(session: Session, user_id: int, values: dict[str, Any]) -> BillingProfile:
    """Create or update the account's billing profile (bad input changes nothing)."""
    clean = validate_billing(values)
    profile = billing_profile(session, user_id)
    if profile is None:
        profile = BillingProfile(user_id=user_id, **clean)
        try:
            with session.begin_nested():
                session.add(profile)
                session.flush()
            return profile
        except IntegrityError:  # two tabs saved at once: update the one that exists
            profile = billing_profile(session, user_id)
    for key, value in clean.items():
        setattr(profile, key, value)
    profile.updated_at = utcnow()
    session.flush()
    return profile


# --- issuing -------------------------------------------------------------------------------


def seller_snapshot(settings: Settings | None = None) -> dict[str, Any]:
    settings = settings or get_settings()
    return {
        "brand": settings.brand_name,
        "name": settings.seller_name,
        "address": [part.strip() for part in settings.seller_address.split(";") if part.strip()],
        "country": settings.seller_country.upper(),
        "vat_id": settings.seller_vat_id,
        "contact": settings.seller_contact,
        "bank": settings.seller_bank,
    }


def buyer_snapshot(session: Session, user_id: int | None, email: str) -> dict[str, Any]:
    details = billing_details(session, user_id) if user_id else dict.fromkeys(BILLING_KEYS, "")
    country = vat_table().countries.get(details["country"])
    return {**details, "country_name": country.name if country else "", "email": email}


def _next_sequence(session: Session, series: str, year: int) -> int:
    """Move the series' counter by one and return it. The UPDATE locks the row until the
    caller's transaction ends (PostgreSQL's row lock; SQLite serialises writers)."""
    params = {"b_series": series, "b_year": year}
    moved = session.execute(_SEQUENCE_BUMP, params).first()
    if moved is not None:
        return int(moved[0])
    try:
        with session.begin_nested():
            session.add(InvoiceSequence(series=series, year=year, last_number=1))
            session.flush()
        return 1
    except IntegrityError:  # the year's first two documents raced: the other created it
        return int(session.execute(_SEQUENCE_BUMP, params).scalar_one())


_sequences = InvoiceSequence.__table__
_SEQUENCE_BUMP = (
    update(_sequences)
    .where(_sequences.c.series == bindparam("b_series"), _sequences.c.year == bindparam("b_year"))
    .values(last_number=_sequences.c.last_number + 1)
    .returning(_sequences.c.last_number)
)


def _existing(session: Session, payment_id: int) -> Invoice | None:
    return session.execute(select(Invoice).where(Invoice.payment_id == payment_id)).scalars().first()


def _issue(
    session: Session,
    *,
    kind: InvoiceKind,
    payment: Payment,
    order: Order | None,
    buyer: dict[str, Any],
    treatment: VatTreatment,
    items: list[tuple[str, int, int]],
    credited: Invoice | None = None,
    now: datetime | None = None,
    email: bool = True,
    new_payment: bool = False,
) -> Invoice:
    """Number and store one document for `payment`, once; the email (unless `email` is false)
    goes after commit. `new_payment`: the caller inserted the payment in this transaction, so
    no other transaction can issue its document: none is looked up and no savepoint guards
    the INSERT (anything refusing it rolls the whole transaction back, the number with it)."""
    if not new_payment:
        found = _existing(session, payment.id)
        if found is not None:
            return found
    now = now or utcnow()
    lines, totals = priced_lines(items, treatment.rate)
    series = SERIES[kind.value]
    try:
        with session.begin_nested() if not new_payment else nullcontext():
            sequence = _next_sequence(session, series, now.year)
            invoice = Invoice(
                number=f"{series}-{now.year}-{sequence:06d}",
                kind=kind.value,
                series=series,
                year=now.year,
                sequence=sequence,
                payment_id=payment.id,
                order_id=order.id if order else payment.order_id,
                user_id=order.user_id if order else None,
                credited_invoice_id=credited.id if credited else None,
                customer_email=buyer.get("email", ""),
                currency=payment.currency,
                net_minor=totals["net_minor"],
                vat_minor=totals["vat_minor"],
                gross_minor=totals["gross_minor"],
                vat_rate=rate_text(treatment.rate),
                reverse_charge=treatment.reverse_charge,
                vat_note=treatment.note,
                seller=seller_snapshot(),
                buyer=buyer,
                lines=lines,
                issued_at=now,
            )
            if new_payment:  # written once: read from the object only
                insert_built(session, invoice)
            else:
                session.add(invoice)
                session.flush()
    except IntegrityError:  # the same payment's document was issued meanwhile: the counter went back too
        return _existing(session, payment.id)
    if email:
        notify_issued(session, invoice)
    return invoice


def _line_description(title: str, snapshot: dict[str, Any] | None) -> str:
    summary = (snapshot or {}).get("summary", "")
    return f"{title} — {summary}" if summary else title


def issue_for_order(
    session: Session,
    order: Order,
    payment: Payment,
    now: datetime | None = None,
    *,
    email: bool = True,
    new_lines: list[tuple[str, dict[str, Any], int, int]] | None = None,
) -> Invoice | None:
    """The invoice of a paid order (its charge payment). Lines are the order's items at their
    frozen prices; a discount is its own negative line, so the total is what was charged.
    `email=False` for orders whose buyer gets no email each (a reseller's API orders): the
    invoice is still issued and listed on their billing page. `new_lines`: the items as
    (title, snapshot, quantity, total) when the caller wrote them and `payment` in this
    transaction (placement): nothing is read back and no existing document looked up."""
    if payment.amount_minor <= 0:
        return None  # nothing was paid: nothing to invoice
    if new_lines is None:
        found = _existing(session, payment.id)
        if found is not None:
            return found
        items = session.execute(
            select(OrderItem).where(OrderItem.order_id == order.id).order_by(OrderItem.id)
        ).scalars()
        new_lines = [(item.product_title, item.snapshot, item.quantity, item.total_minor) for item in items]
        fresh = False
    else:
        fresh = True
    rows = [(_line_description(title, snapshot), quantity, total) for title, snapshot, quantity, total in new_lines]
    difference = payment.amount_minor - sum(gross for _, _, gross in rows)
    if difference:
        rows.append(("Discount" if difference < 0 else "Adjustment", 1, difference))
    buyer = buyer_snapshot(session, order.user_id, order.customer_email)
    return _issue(
        session,
        kind=InvoiceKind.INVOICE,
        payment=payment,
        order=order,
        buyer=buyer,
        treatment=vat_treatment(buyer),
        items=rows,
        now=now,
        email=email,
        new_payment=fresh,
    )


def issue_for_renewal(session: Session, payment: Payment, now: datetime | None = None) -> Invoice | None:
    """The invoice of a subscription renewal (the renewal's invoice payment)."""
    if payment.amount_minor <= 0:
        return None
    order = session.get(Order, payment.order_id) if payment.order_id else None
    title = "Subscription renewal"
    if order is not None:
        plan = next(
            (
                item
                for item in session.execute(
                    select(OrderItem).where(OrderItem.order_id == order.id).order_by(OrderItem.id)
                ).scalars()
                if ((item.snapshot or {}).get("price") or {}).get("billing") == "subscription"
            ),
            None,
        )
        if plan is not None:
            title = f"{plan.product_title} — renewal"
    buyer = buyer_snapshot(session, order.user_id if order else None, order.customer_email if order else "")
    return _issue(
        session,
        kind=InvoiceKind.INVOICE,
        payment=payment,
        order=order,
        buyer=buyer,
        treatment=vat_treatment(buyer),
        items=[(title, 1, payment.amount_minor)],
        now=now,
    )


def issue_credit_notes(session: Session, order_id: int, now: datetime | None = None) -> list[Invoice]:
    """A credit note for each succeeded refund of the order that has none yet, at the VAT
    rule of the order's invoice (its frozen buyer and rate)."""
    refunds = (
        session.execute(
            select(Payment)
            .outerjoin(Invoice, Invoice.payment_id == Payment.id)
            .where(
                Payment.order_id == order_id,
                Payment.kind == PaymentKind.REFUND.value,
                Payment.status == PaymentRowStatus.SUCCEEDED.value,
                Invoice.id.is_(None),
            )
            .order_by(Payment.id)
        )
        .scalars()
        .all()
    )
    if not refunds:
        return []
    order = session.get(Order, order_id)
    original = (
        session.execute(
            select(Invoice)
            .where(Invoice.order_id == order_id, Invoice.kind == InvoiceKind.INVOICE.value)
            .order_by(Invoice.id)
        )
        .scalars()
        .first()
    )
    if original is not None:
        buyer = original.buyer
        treatment = VatTreatment(Decimal(original.vat_rate), original.reverse_charge, original.vat_note)
    else:
        buyer = buyer_snapshot(session, order.user_id, order.customer_email)
        treatment = vat_treatment(buyer)
    reference = f" (invoice {original.number})" if original else ""
    issued = []
    for refund in refunds:
        issued.append(
            _issue(
                session,
                kind=InvoiceKind.CREDIT_NOTE,
                payment=refund,
                order=order,
                buyer=buyer,
                treatment=treatment,
                items=[(f"Refund for order {order.number}{reference}", 1, -refund.amount_minor)],
                credited=original,
                now=now,
            )
        )
    return issued


# --- the PDF -------------------------------------------------------------------------------

_FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))


def amount_text(amount_minor: int, currency: str) -> str:
    """1,234.50 EUR: the PDF's amounts (the ISO code, in every font)."""
    places = exponent(currency)
    value = to_decimal(amount_minor, currency)
    return f"{value:,.{places}f} {currency.upper()}"


def pdf_path(invoice: Invoice, settings: Settings | None = None) -> Path:
    settings = settings or get_settings()
    return Path(settings.invoice_dir) / str(invoice.year) / f"{invoice.number}.pdf"


def _core(text: str) -> str:
    return text.replace("—", "-").replace("–", "-").replace("’", "'").replace("€", "EUR")


def _latin1(text: str) -> bool:
    try:
        _core(text).encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def render_pdf(invoice: Invoice, order_number: str = "", credited_number: str = "") -> bytes:
    """The document as a PDF (fpdf2). Deterministic for one invoice: dated by its issue time."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_creation_date(invoice.issued_at)
    pdf.set_title(invoice.number)
    # The core Helvetica font (Latin-1) is fast; a document with other letters (Łódź, Ελλάδα)
    # embeds DejaVu Sans when the system has it (~0.7 s a document), else shows "?" for them.
    texts = [json.dumps(invoice.seller, ensure_ascii=False), json.dumps(invoice.buyer, ensure_ascii=False)]
    texts += [str(line["description"]) for line in invoice.lines] + [invoice.vat_note]
    regular = next((d / "DejaVuSans.ttf" for d in _FONT_DIRS if (d / "DejaVuSans.ttf").exists()), None)
    if regular is not None and not all(_latin1(text) for text in texts):
        pdf.add_font("Body", "", str(regular))
        pdf.add_font("Body", "B", str(regular.with_name("DejaVuSans-Bold.ttf")))
        family = "Body"

        def safe(text: str) -> str:
            return text
    else:
        family = "Helvetica"

        def safe(text: str) -> str:
            return _core(text).encode("latin-1", "replace").decode("latin-1")

    pdf.set_auto_page_break(True, margin=20)
    pdf.add_page()
    seller, buyer = invoice.seller, invoice.buyer
    credit = invoice.kind == InvoiceKind.CREDIT_NOTE.value
    pdf.set_text_color(79, 70, 229)
    pdf.set_font(family, "B", 18)
    pdf.cell(0, 9, safe(seller.get("brand", "")), new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(31, 36, 48)
    pdf.set_font(family, "B", 14)
    pdf.cell(0, 8, "Credit note" if credit else "Invoice", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, "", 10)
    meta = [f"Number: {invoice.number}", f"Date of issue: {invoice.issued_at:%Y-%m-%d}"]
    if order_number:
        meta.append(f"Order: {order_number}")
    if credited_number:
        meta.append(f"Credits invoice: {credited_number}")
    for line in meta:
        pdf.cell(0, 5, safe(line), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)

    top = pdf.get_y()
    column = (pdf.w - pdf.l_margin - pdf.r_margin) / 2
    seller_lines = [
        seller.get("name", ""),
        *seller.get("address", []),
        f"VAT ID: {seller.get('vat_id', '')}",
        seller.get("contact", ""),
    ]
    buyer_lines = [
        buyer.get("company") or buyer.get("name") or buyer.get("email", ""),
        buyer.get("name", "") if buyer.get("company") else "",
        *str(buyer.get("address", "")).splitlines(),
        buyer.get("country_name", ""),
        f"VAT ID: {buyer['vat_id']}" if buyer.get("vat_id") else "",
        buyer.get("email", ""),
    ]
    bottoms = []
    for x, title, lines in ((pdf.l_margin, "From", seller_lines), (pdf.l_margin + column, "Bill to", buyer_lines)):
        pdf.set_xy(x, top)
        pdf.set_font(family, "B", 10)
        pdf.cell(column, 5, title, new_x="LEFT", new_y="NEXT")
        pdf.set_font(family, "", 10)
        for line in lines:
            if line:
                pdf.cell(column, 5, safe(str(line)), new_x="LEFT", new_y="NEXT")
        bottoms.append(pdf.get_y())
    pdf.set_xy(pdf.l_margin, max(bottoms) + 6)

    currency = invoice.currency
    widths = (70, 12, 28, 18, 26, 28)
    pdf.set_font(family, "B", 9)
    pdf.set_fill_color(238, 240, 245)
    for width, head, align in zip(
        widths, ("Description", "Qty", "Net", "VAT %", "VAT", "Gross"), ("L", "R", "R", "R", "R", "R"), strict=True
    ):
        pdf.cell(width, 7, head, border="B", align=align, fill=True)
    pdf.ln()
    pdf.set_font(family, "", 9)
    for line in invoice.lines:
        cells = (
            line["description"],
            str(line["quantity"]),
            amount_text(line["net_minor"], currency),
            f"{line['vat_rate']}%",
            amount_text(line["vat_minor"], currency),
            amount_text(line["gross_minor"], currency),
        )
        y = pdf.get_y()
        pdf.multi_cell(widths[0], 5, safe(cells[0]), align="L", new_x="RIGHT", new_y="TOP")
        row_bottom = pdf.get_y()
        pdf.set_xy(pdf.l_margin + widths[0], y)
        for width, text in zip(widths[1:], cells[1:], strict=True):
            pdf.cell(width, 5, safe(text), align="R")
        pdf.set_xy(pdf.l_margin, max(row_bottom, y + 5) + 1)
    pdf.ln(3)
    label_width = sum(widths[:-1])
    totals = (
        ("Total net", invoice.net_minor),
        (f"VAT {invoice.vat_rate}%", invoice.vat_minor),
        ("Total" if not credit else "Total credited", invoice.gross_minor),
    )
    for label, amount in totals:
        pdf.set_font(family, "B" if label.startswith("Total") and "net" not in label else "", 10)
        pdf.cell(label_width, 6, label, align="R")
        pdf.cell(widths[-1], 6, amount_text(amount, currency), align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font(family, "", 9)
    if invoice.vat_note:
        pdf.set_font(family, "B", 9)
        pdf.multi_cell(0, 5, safe(invoice.vat_note), align="L", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(family, "", 9)
    pdf.multi_cell(0, 5, "Prices include VAT.", align="L", new_x="LMARGIN", new_y="NEXT")
    if not credit:
        pdf.multi_cell(
            0, 5, "Paid in full by card. Thank you for your business.", align="L", new_x="LMARGIN", new_y="NEXT"
        )
    if seller.get("bank"):
        pdf.multi_cell(0, 5, safe(f"Bank: {seller['bank']}"), align="L", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def ensure_pdf(session: Session, invoice: Invoice) -> Path:
    """The invoice's PDF file, written once (atomically) and fingerprinted on the row. A file
    that does not match the row's fingerprint (another database's invoice of the same number in
    a reused folder, a damaged copy) is rendered again: the rendering is deterministic."""
    path = pdf_path(invoice)
    if invoice.pdf_sha256 and path.exists() and hashlib.sha256(path.read_bytes()).hexdigest() == invoice.pdf_sha256:
        return path
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    order = session.get(Order, invoice.order_id) if invoice.order_id else None
    credited = session.get(Invoice, invoice.credited_invoice_id) if invoice.credited_invoice_id else None
    data = render_pdf(invoice, order.number if order else "", credited.number if credited else "")
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)
    session.execute(
        update(Invoice)
        .where(Invoice.id == invoice.id, Invoice.pdf_sha256 == "")
        .values(pdf_generated_at=utcnow(), pdf_sha256=hashlib.sha256(data).hexdigest())
        .execution_options(synchronize_session=False)
    )
    return path


# --- who may read it -----------------------------------------------------------------------


def invoice_for(session: Session, invoice_id: int, user_id: int, role: str) -> Invoice:
    """The invoice if the caller owns it or is staff who sees all orders; otherwise NOT_FOUND
    (another customer's invoice does not exist for them)."""
    invoice = session.get(Invoice, invoice_id)
    if invoice is None or not (
        invoice.user_id == user_id or permissions.has_permission(role, permissions.Permission.VIEW_ORDERS)
    ):
        raise InvoiceError("No such invoice.", code=ErrorCode.NOT_FOUND)
    return invoice


# --- lists and exports ---------------------------------------------------------------------


def _row(invoice: Invoice, order_number: str = "") -> dict[str, Any]:
    buyer = invoice.buyer or {}
    return {
        "id": invoice.id,
        "number": invoice.number,
        "kind": "Credit note" if invoice.kind == InvoiceKind.CREDIT_NOTE.value else "Invoice",
        "issued": f"{invoice.issued_at:%Y-%m-%d}",
        "order": order_number,
        "customer_email": invoice.customer_email,
        "buyer": buyer.get("company") or buyer.get("name") or invoice.customer_email,
        "country": buyer.get("country", ""),
        "vat_id": buyer.get("vat_id", ""),
        "currency": invoice.currency,
        "net": format_money(invoice.net_minor, invoice.currency),
        "vat": format_money(invoice.vat_minor, invoice.currency),
        "gross": format_money(invoice.gross_minor, invoice.currency),
        "vat_rate": f"{invoice.vat_rate}%",
        "reverse_charge": invoice.reverse_charge,
        "download": DOWNLOAD_PATH.format(id=invoice.id),
    }


def for_order(session: Session, order_id: int) -> list[dict[str, Any]]:
    """The invoice and credit notes of one order, oldest first (one query): the admin order
    page lists them with their PDFs."""
    rows = session.execute(select(Invoice).where(Invoice.order_id == order_id).order_by(Invoice.id)).scalars()
    return [_row(invoice) for invoice in rows]


def _csv_row(invoice: Invoice, order_number: str) -> dict[str, Any]:
    row = _row(invoice, order_number)
    for key in ("net", "vat", "gross"):
        row[key] = str(to_decimal(getattr(invoice, f"{key}_minor"), invoice.currency))
    row["vat_rate"] = invoice.vat_rate
    row["reverse_charge"] = "yes" if invoice.reverse_charge else "no"
    return {key: row[key] for key in CSV_FIELDS}


def _with_orders(session: Session, query) -> list[tuple[Invoice, str]]:
    rows = session.execute(query.add_columns(Order.number).outerjoin(Order, Order.id == Invoice.order_id)).all()
    return [(invoice, number or "") for invoice, number in rows]


def list_for_user(session: Session, user_id: int) -> list[dict[str, Any]]:
    """The customer's invoices and credit notes, newest first (one query)."""
    query = select(Invoice).where(Invoice.user_id == user_id).order_by(Invoice.id.desc())
    return [_row(invoice, number) for invoice, number in _with_orders(session, query)]


def export_csv_for_user(session: Session, user_id: int) -> str:
    query = select(Invoice).where(Invoice.user_id == user_id).order_by(Invoice.id)
    return csv_safe.write_csv([_csv_row(i, n) for i, n in _with_orders(session, query)], CSV_FIELDS)


@dataclass(frozen=True)
class Filters:
    number: str = ""
    customer: str = ""
    date_from: date | None = None
    date_to: date | None = None

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> Filters:
        def day(key: str) -> date | None:
            value = str(raw.get(key, "") or "").strip()
            if not value:
                return None
            try:
                return date.fromisoformat(value[:10])
            except ValueError:
                raise InvoiceError("Dates look like 2026-11-30.", field=key) from None

        parsed = cls(
            number=str(raw.get("number", "") or "").strip()[:32],
            customer=str(raw.get("customer", "") or "").strip().lower()[:320],
            date_from=day("date_from"),
            date_to=day("date_to"),
        )
        if parsed.date_from and parsed.date_to and parsed.date_from > parsed.date_to:
            raise InvoiceError("The period ends before it starts.", field="date_to")
        return parsed

    def where(self) -> list[Any]:
        conditions: list[Any] = []
        if self.number:
            conditions.append(Invoice.number.ilike(f"%{self.number}%"))
        if self.customer:
            conditions.append(Invoice.customer_email.ilike(f"%{self.customer}%"))
        if self.date_from:
            conditions.append(Invoice.issued_at >= datetime.combine(self.date_from, time(0), tzinfo=UTC))
        if self.date_to:
            conditions.append(
                Invoice.issued_at < datetime.combine(self.date_to + timedelta(days=1), time(0), tzinfo=UTC)
            )
        return conditions


def admin_page(session: Session, filters: Filters, before_id: int | None = None) -> tuple[list[dict[str, Any]], int]:
    """One keyset page of every invoice (newest first) and the cursor of the next, 0 at the end."""
    query = select(Invoice).where(*filters.where())
    if before_id:
        query = query.where(Invoice.id < before_id)
    rows = _with_orders(session, query.order_by(Invoice.id.desc()).limit(PAGE_SIZE + 1))
    following = rows[PAGE_SIZE - 1][0].id if len(rows) > PAGE_SIZE else 0
    return [_row(invoice, number) for invoice, number in rows[:PAGE_SIZE]], following


def export_csv(session: Session, actor: Any, filters: Filters) -> str:
    """Every invoice matching the filters as CSV (staff; the export is in the audit log)."""
    from smplat.services import audit

    audit.require(actor, permissions.Permission.VIEW_ORDERS, "invoices.export", "invoices", "all")
    query = select(Invoice).where(*filters.where()).order_by(Invoice.id)
    rows = [_csv_row(i, n) for i, n in _with_orders(session, query)]
    audit.record(session, actor, "invoices.export", "invoices", "all", data={"rows": len(rows)})
    return csv_safe.write_csv(rows, CSV_FIELDS)


# --- the "invoice issued" email --------------------------------------------------------------


def pdf_attachment(session: Session, invoice_id: int) -> tuple[str, bytes]:
    """(file name, bytes) of a document's PDF for an email attachment (made again if missing)."""
    invoice = session.get(Invoice, invoice_id)
    if invoice is None:
        raise ValueError(f"no invoice {invoice_id}")
    path = ensure_pdf(session, invoice)
    return path.name, path.read_bytes()


def notify_issued(session: Session, invoice: Invoice) -> None:
    """Queue the "invoice issued" notification (PDF attached) in the issuing transaction: it goes
    once per document (the event key), whatever the customer's preferences (invoices always go)."""
    from smplat.models.accounts import User
    from smplat.services import notifications

    if not invoice.customer_email:
        return
    settings = get_settings()
    user = session.get(User, invoice.user_id) if invoice.user_id else None
    order = session.get(Order, invoice.order_id) if invoice.order_id else None
    notifications.notify(
        session,
        notifications.NotificationKind.INVOICE_ISSUED,
        user=user if user is not None and user.is_active else None,
        recipient=invoice.customer_email,
        context={
            "invoice_number": invoice.number,
            "document": "credit note" if invoice.kind == InvoiceKind.CREDIT_NOTE.value else "invoice",
            "order_number": order.number if order is not None else "",
            "amount": format_money(invoice.gross_minor, invoice.currency),
            "download_url": f"{settings.public_base_url.rstrip('/')}/account/billing" if invoice.user_id else "",
        },
        event_key=f"invoice_issued:{invoice.id}",
        attachment_ref=f"invoice:{invoice.id}",
    )
