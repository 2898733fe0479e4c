"""The admin's routing preview: for each package of a product, what the customer pays,
which provider routes would deliver it, at what cost and margin, and which the margin
guardrail warns about or blocks."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlmodel import Session

from smplat.services import catalog, pricing, routing
from smplat.services.delivery import DeliverySpec
from smplat.services.money import format_money

PREVIEW_LINK = "https://preview.invalid/account"  # routing never looks at the link


def _package_group(detail: catalog.ProductDetail):
    """The required single-choice group whose options set the delivered units."""
    for group, options in detail.groups:
        if group.required and group.selection == "single" and any(o.quantity for o in options):
            return group, options
    return None, []


def product_route_preview(session: Session, slug: str) -> dict[str, Any] | None:
    detail = catalog.get_product_detail(session, slug, include_inactive=True)
    if detail is None:
        return None
    product = detail.product
    base = pricing.default_configuration(detail)
    group, options = _package_group(detail)
    packages = (
        [(o.label, replace(base, options={**base.options, group.key: [o.key]})) for o in options]
        if group
        else [("Default configuration", base)]
    )
    rows: list[dict[str, Any]] = []
    for label, config in packages:
        quote = pricing.price_for(session, detail, config, fields=pricing.FIELDS_SKIP)  # list price, no visitor
        spec = DeliverySpec(link=PREVIEW_LINK, quantity=max(1, quote.service_units), channel=product.platform)
        candidates = routing.preview(session, product.id, spec, quote.total_minor)
        if not candidates:
            rows.append(
                {
                    "package": label,
                    "price": format_money(quote.total_minor, quote.currency),
                    "units": str(spec.quantity),
                    "provider": "—",
                    "service": "—",
                    "cost": "—",
                    "margin": "—",
                    "verdict": "blocked",
                    "note": "no route matches this package",
                }
            )
        for c in candidates:
            verdict = "blocked" if not c.eligible else ("warning" if c.warning else "ok")
            rows.append(
                {
                    "package": label,
                    "price": format_money(quote.total_minor, quote.currency),
                    "units": str(c.quantity),
                    "provider": c.provider.name,
                    "service": f"#{c.service.external_service_id} {c.service.name}",
                    "cost": format_money(c.cost_minor, quote.currency),
                    "margin": "—" if c.margin_bps is None else f"{c.margin_bps / 100:.1f} %",
                    "verdict": verdict,
                    "note": "; ".join(c.reasons) if c.reasons else c.warning,
                }
            )
    return {
        "slug": product.slug,
        "title": product.title,
        "rows": rows,
        "blocked": sum(r["verdict"] == "blocked" for r in rows),
        "warnings": sum(r["verdict"] == "warning" for r in rows),
    }
