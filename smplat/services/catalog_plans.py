"""The plans tab of the product editor: one-time or subscription, interval, price, kept in step
with Stripe.

A subscription plan has a Stripe Price (`stripe_price_id`). Stripe prices are immutable, so a
new subscription plan, or one whose amount, currency, interval or interval count changes,
gets a NEW price through the Stripe adapter (`integrations.stripe_gateway.create_price`), and
the old one is deactivated. A plan that becomes one-time (or is deleted) has its price
deactivated and forgotten. Stripe is called after every local check and the version claim,
inside the caller's transaction: when Stripe cannot be reached the adapter raises
`PaymentProviderUnavailable` (503, a clear message) and the transaction rolls back, so
nothing is saved.

Every save: EDIT_CATALOG (`audit.require`), `claim_version`, the write, `audit.record`.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from smplat.integrations import stripe_gateway
from smplat.models.catalog import PlanBilling, PlanInterval, Product, ProductCustomField, ProductPlan, ProductPreset
from smplat.services import audit, money
from smplat.services.audit import Actor
from smplat.services.catalog_drafts import claim_version
from smplat.services.catalog_drafts import get_product as _product
from smplat.services.errors import ErrorCode, ServiceError
from smplat.services.permissions import Permission

KEY_RE = re.compile(r"^[a-z][a-z0-9_-]{0,59}$")
# Stripe's limit: a billing interval is at most one year
MAX_INTERVAL_COUNT = {PlanInterval.WEEK.value: 52, PlanInterval.MONTH.value: 12, PlanInterval.YEAR.value: 1}
MAX_PRICE_MINOR = 100_000_000


class PlanInvalid(ServiceError):
    default_code = ErrorCode.INVALID


def list_plans(session: Session, product_id: int) -> list[ProductPlan]:
    return list(
        session.execute(
            select(ProductPlan)
            .where(ProductPlan.product_id == int(product_id))
            .order_by(ProductPlan.sort_order, ProductPlan.id)
        )
        .scalars()
        .all()
    )


def snapshot(plan: ProductPlan) -> dict[str, Any]:
    return {
        "key": plan.key,
        "name": plan.name,
        "billing": plan.billing,
        "interval": plan.interval,
        "interval_count": plan.interval_count,
        "price_minor": plan.price_minor,
        "currency": plan.currency,
        "stripe_price_id": plan.stripe_price_id,
        "is_active": bool(plan.is_active),
    }


def billing_label(plan: ProductPlan) -> str:
    if plan.billing != PlanBilling.SUBSCRIPTION.value:
        return "One-time"
    if plan.interval_count == 1:
        return f"Every {plan.interval}"
    return f"Every {plan.interval_count} {plan.interval}s"


def parse_price(value: Any, currency: str = "EUR") -> int | None:
    """A price typed in major units ("29", "29.90", "29,90") as the currency's minor units;
    an int is taken as minor units already."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return money.parse_amount(value, currency)


def _check(session: Session, product: Product, data: dict[str, Any], plan_id: int | None) -> dict[str, Any]:
    errors: dict[str, str] = {}
    key = str(data.get("key") or "").strip().lower()
    if not KEY_RE.match(key):
        errors["key"] = "Use 1-60 lower-case letters, digits, - and _ , starting with a letter (e.g. monthly)."
    else:
        taken = session.execute(
            select(ProductPlan.id).where(ProductPlan.product_id == product.id, ProductPlan.key == key)
        ).scalar_one_or_none()
        if taken is not None and taken != plan_id:
            errors["key"] = f"This product already has a plan {key!r}."
    name = str(data.get("name") or "").strip()
    if not name or len(name) > 120:
        errors["name"] = "Give the plan a name of at most 120 characters."
    billing = str(data.get("billing") or PlanBilling.ONE_TIME.value)
    if billing not in (PlanBilling.ONE_TIME.value, PlanBilling.SUBSCRIPTION.value):
        errors["billing"] = "Choose one-time or subscription."
    interval: str | None = None
    interval_count = 1
    if billing == PlanBilling.SUBSCRIPTION.value:
        interval = str(data.get("interval") or "")
        if interval not in MAX_INTERVAL_COUNT:
            errors["interval"] = "Choose how often it renews: week, month or year."
        try:
            interval_count = int(str(data.get("interval_count") or "1").strip())
        except ValueError:
            errors["interval_count"] = "Renew every 1, 2, 3 ... intervals."
        else:
            limit = MAX_INTERVAL_COUNT.get(interval or "", 12)
            if not 1 <= interval_count <= limit:
                errors["interval_count"] = f"Between 1 and {limit} for a {interval or 'month'}ly plan (at most a year)."
    price = parse_price(data.get("price_minor") if "price_minor" in data else data.get("price"), product.currency)
    if price is None or price > MAX_PRICE_MINOR:
        errors["price"] = "Type the price like 29 or 29.90."
    elif price == 0 and billing == PlanBilling.SUBSCRIPTION.value:
        errors["price"] = "A subscription costs more than zero."
    if errors:
        first = next(iter(errors))
        raise PlanInvalid(errors[first], field=first, errors=errors)
    return {
        "key": key,
        "name": name,
        "billing": billing,
        "interval": interval,
        "interval_count": interval_count,
        "price_minor": price,
        "currency": product.currency,
        "is_active": data.get("is_active", True) not in (False, "false", "off", "0"),
    }


def _needs_new_price(existing: ProductPlan | None, values: dict[str, Any]) -> bool:
    if values["billing"] != PlanBilling.SUBSCRIPTION.value:
        return False
    if existing is None or not existing.stripe_price_id:
        return True
    return any(
        getattr(existing, name) != values[name]
        for name in ("billing", "price_minor", "currency", "interval", "interval_count")
    )


def save_plan(
    session: Session,
    actor: Actor,
    product_id: int,
    expected_version: int,
    data: dict[str, Any],
    *,
    plan_id: int | None = None,
) -> tuple[ProductPlan, int]:
    """Add (plan_id None) or edit a plan, creating its Stripe price when needed; returns (row,
    the product's new version). Stripe unreachable: PaymentProviderUnavailable, nothing saved."""
    action = "catalog.plan.update" if plan_id else "catalog.plan.create"
    audit.require(actor, Permission.EDIT_CATALOG, action, "product", product_id)
    product = _product(session, product_id)
    existing = None
    if plan_id is not None:
        existing = session.get(ProductPlan, int(plan_id))
        if existing is None or existing.product_id != product.id:
            raise ServiceError("This plan no longer exists; reload the page.", code=ErrorCode.NOT_FOUND)
        if existing.key != str(data.get("key") or "").strip().lower():
            _refuse_if_used(session, product.id, existing.key, "renamed")
    values = _check(session, product, data, plan_id)
    version = claim_version(session, product.id, expected_version)
    before = snapshot(existing) if existing is not None else None
    old_price = existing.stripe_price_id if existing is not None else None
    price_id = old_price if values["billing"] == PlanBilling.SUBSCRIPTION.value else None
    if _needs_new_price(existing, values):
        created = stripe_gateway.create_price(
            product_name=f"{product.title} — {values['name']}",
            currency=values["currency"],
            unit_amount=values["price_minor"],
            interval=values["interval"],
            interval_count=values["interval_count"],
            metadata={"product_id": str(product.id), "plan_key": values["key"]},
        )
        price_id = str(created["id"])
    if old_price and old_price != price_id:
        stripe_gateway.deactivate_price(old_price)
    row = existing or ProductPlan(product_id=product.id, key=values["key"], name=values["name"])
    if existing is None:
        row.sort_order = max((p.sort_order for p in list_plans(session, product.id)), default=-1) + 1
        session.add(row)
    for name, value in values.items():
        setattr(row, name, value)
    row.stripe_price_id = price_id
    session.flush()
    audit.record(
        session, actor, action, "product", product.id, before=before, after=snapshot(row),
        data={"plan": row.key, "stripe_price_created": price_id != old_price and price_id is not None},
    )  # fmt: skip
    return row, version


def _refuse_if_used(session: Session, product_id: int, key: str, what: str) -> None:
    presets = [
        p.label
        for p in session.execute(select(ProductPreset).where(ProductPreset.product_id == product_id)).scalars()
        if (p.selection or {}).get("plan") == key
    ]
    fields = [
        f.label
        for f in session.execute(
            select(ProductCustomField).where(ProductCustomField.product_id == product_id)
        ).scalars()
        if any(c == {"plan": key} for c in (f.visibility_rules or {}).get("conditions") or [])
    ]
    if presets or fields:
        names = ", ".join([*(f"preset {p}" for p in presets), *(f"field {f}" for f in fields)])
        raise ServiceError(
            f"This plan cannot be {what} while {names} use(s) it. Edit them first.",
            code=ErrorCode.CONFLICT,
            field="key",
        )


def delete_plan(session: Session, actor: Actor, product_id: int, expected_version: int, plan_id: int) -> int:
    audit.require(actor, Permission.EDIT_CATALOG, "catalog.plan.delete", "product", product_id)
    product = _product(session, product_id)
    row = session.get(ProductPlan, int(plan_id))
    if row is None or row.product_id != product.id:
        raise ServiceError("This plan no longer exists; reload the page.", code=ErrorCode.NOT_FOUND)
    _refuse_if_used(session, product.id, row.key, "deleted")
    version = claim_version(session, product.id, expected_version)
    before = snapshot(row)
    if row.stripe_price_id:
        stripe_gateway.deactivate_price(row.stripe_price_id)
    session.delete(row)
    session.flush()
    audit.record(
        session, actor, "catalog.plan.delete", "product", product.id, before=before, after=None,
        data={"plan": before["key"]},
    )  # fmt: skip
    return version


def plan_rows(plans: list[ProductPlan]) -> list[dict[str, Any]]:
    """The plans table of the editor page."""
    return [
        {
            "id": str(p.id),
            "key": p.key,
            "name": p.name,
            "billing": p.billing,
            "billing_label": billing_label(p),
            "interval": p.interval or "",
            "interval_count": str(p.interval_count),
            "price": money.format_money(p.price_minor, p.currency),
            "price_input": f"{money.to_decimal(p.price_minor, p.currency):f}",
            "stripe_price_id": p.stripe_price_id or "—",
            "active": "yes" if p.is_active else "no",
        }
        for p in plans
    ]
