"""Pricing experiments: variants of a product's price, sticky assignment, per-variant results.

Assignment is a hash of (experiment key, visitor key) over the variants' weights, so a
visitor sees the same price on every visit without a row per visitor. The visitor key is
the SHA-256 of the browser's cart cookie. Exposures are analytics (consent required);
conversions and revenue are counted when an order is paid (no personal data kept).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from smplat.models.catalog import Product
from smplat.models.merchandising import ExperimentStatus, PriceExperiment, PriceExperimentVariant
from smplat.services import audit, rate_limits
from smplat.services.consent import allows_analytics
from smplat.services.errors import ErrorCode, ServiceError
from smplat.services.money import format_money

_KEY_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,59}$")


class ExperimentError(ServiceError, ValueError):
    """An experiment definition an admin must fix; the message says what, `field` where."""


VARIANTS_FORMAT = "Variants: key:label:price_bps:weight, separated by commas."


def parse_variants(text: str) -> list[tuple[str, str, int, int]]:
    """The admin's one-line definition "control:List price:10000:1, lower:Ten off:9000:1"
    as (key, label, price_bps, weight) tuples; the rules on the values are `create_experiment`'s."""
    variants = []
    for part in str(text or "").split(","):
        pieces = [x.strip() for x in part.split(":")]
        if len(pieces) != 4:
            raise ExperimentError(VARIANTS_FORMAT, code=ErrorCode.INVALID, field="variants")
        key, label, bps, weight = pieces
        try:
            variants.append((key, label, int(bps), int(weight)))
        except ValueError:
            raise ExperimentError(VARIANTS_FORMAT, code=ErrorCode.INVALID, field="variants") from None
    return variants


def define_experiment(
    session: Session,
    *,
    product_slug: str,
    key: str,
    name: str,
    variants_text: str,
    actor: audit.Actor | None = None,
) -> PriceExperiment:
    """The admin form's experiment: product by slug, variants in the one-line format."""
    variants = parse_variants(variants_text)
    product_id = session.execute(select(Product.id).where(Product.slug == str(product_slug or ""))).scalar()
    experiment = create_experiment(
        session, product_id=product_id or 0, key=str(key or ""), name=str(name or ""), variants=variants
    )
    if actor is not None:
        audit.record(
            session,
            actor,
            "experiment.create",
            "experiment",
            experiment.id,
            before={},
            after={"product": product_slug, "key": experiment.key, "name": experiment.name, "variants": variants},
        )
    return experiment


@dataclass(frozen=True)
class VariantPrice:
    """The experiment variant a visitor is assigned to (None: no experiment runs).
    Re-exported as `pricing.VariantPrice`; it lives here so pricing can ask for it."""

    experiment_key: str
    variant_key: str
    price_bps: int

    def as_record(self) -> dict[str, Any]:
        """What a price record stores about it (carts, checkout lines, order snapshots)."""
        return {"experiment": self.experiment_key, "variant": self.variant_key, "price_bps": self.price_bps}


def recorded_variant(record: Any) -> VariantPrice | None:
    """The variant a stored price record was priced with (`Quote.price_record()["experiment"]`),
    so a re-priced line (a regenerated payment link) keeps the price the customer was offered
    and its conversion is counted. A malformed record means no variant."""
    if not isinstance(record, dict):
        return None
    experiment, variant, bps = record.get("experiment"), record.get("variant"), record.get("price_bps")
    if not (
        isinstance(experiment, str)
        and isinstance(variant, str)
        and isinstance(bps, int)
        and not isinstance(bps, bool)
        and 1000 <= bps <= 30000
    ):
        return None
    return VariantPrice(experiment_key=experiment, variant_key=variant, price_bps=bps)


def create_experiment(
    session: Session, *, product_id: int, key: str, name: str, variants: list[tuple[str, str, int, int]]
) -> PriceExperiment:
    """variants: (key, label, price_bps, weight). Stops any other running experiment of the product."""
    if not _KEY_RE.match(key or ""):
        raise ExperimentError("The key must be lower-case letters, digits and dashes.", field="key")
    if not name.strip():
        raise ExperimentError("Give the experiment a name.", code=ErrorCode.REQUIRED, field="name")
    if session.get(Product, product_id) is None:
        raise ExperimentError("Choose a product.", code=ErrorCode.REQUIRED, field="product")
    if len(variants) < 2:
        raise ExperimentError("An experiment needs at least two variants.", field="variants")
    keys = [v[0] for v in variants]
    if len(set(keys)) != len(keys) or not all(_KEY_RE.match(k) for k in keys):
        raise ExperimentError("Variant keys must be distinct lower-case words.", field="variants")
    for _key, _label, bps, weight in variants:
        if not 1000 <= bps <= 30000:
            raise ExperimentError("A variant price must be between 10 % and 300 % of the list price.", field="variants")
        if not 1 <= weight <= 100:
            raise ExperimentError("Weights must be between 1 and 100.", field="variants")
    session.execute(
        update(PriceExperiment)
        .where(PriceExperiment.product_id == product_id, PriceExperiment.status == ExperimentStatus.RUNNING.value)
        .values(status=ExperimentStatus.STOPPED.value)
    )
    experiment = PriceExperiment(product_id=product_id, key=key, name=name.strip())
    try:
        with session.begin_nested():
            session.add(experiment)
            session.flush()
    except IntegrityError:
        raise ExperimentError(
            f"An experiment with the key {key!r} exists already.", code=ErrorCode.CONFLICT, field="key"
        ) from None
    for position, (vkey, label, bps, weight) in enumerate(variants):
        session.add(
            PriceExperimentVariant(
                experiment_id=experiment.id,
                key=vkey,
                label=label or vkey,
                price_bps=bps,
                weight=weight,
                sort_order=position,
            )
        )
    session.flush()
    return experiment


def stop_experiment(session: Session, experiment_id: int, *, actor: audit.Actor | None = None) -> None:
    was = session.execute(select(PriceExperiment.status).where(PriceExperiment.id == experiment_id)).scalar()
    session.execute(
        update(PriceExperiment).where(PriceExperiment.id == experiment_id).values(status=ExperimentStatus.STOPPED.value)
    )
    if actor is not None and was is not None:
        audit.record(
            session,
            actor,
            "experiment.stop",
            "experiment",
            experiment_id,
            before={"status": was},
            after={"status": ExperimentStatus.STOPPED.value},
        )


def assign(experiment_key: str, visitor_key: str, variants: list[PriceExperimentVariant]) -> PriceExperimentVariant:
    """Deterministic weighted choice: the same visitor always lands on the same variant."""
    total = sum(v.weight for v in variants)
    point = int(hashlib.sha256(f"{experiment_key}:{visitor_key}".encode()).hexdigest()[:12], 16) % total
    for variant in variants:
        if point < variant.weight:
            return variant
        point -= variant.weight
    return variants[-1]


def variant_for(session: Session, product_id: int, visitor_key: str | None) -> VariantPrice | None:
    """The running experiment's variant for this visitor (one query), or None."""
    if not visitor_key:
        return None
    rows = session.execute(
        select(PriceExperiment.key, PriceExperimentVariant)
        .join(PriceExperimentVariant, PriceExperimentVariant.experiment_id == PriceExperiment.id)
        .where(PriceExperiment.product_id == product_id, PriceExperiment.status == ExperimentStatus.RUNNING.value)
        .order_by(PriceExperimentVariant.sort_order, PriceExperimentVariant.id)
    ).all()
    if not rows:
        return None
    key = rows[0][0]
    chosen = assign(key, visitor_key, [v for _, v in rows])
    return VariantPrice(experiment_key=key, variant_key=chosen.key, price_bps=chosen.price_bps)


def _bump(session: Session, variant: dict | VariantPrice, **values) -> None:
    exp_key = variant.experiment_key if isinstance(variant, VariantPrice) else variant["experiment"]
    var_key = variant.variant_key if isinstance(variant, VariantPrice) else variant["variant"]
    exp_id = select(PriceExperiment.id).where(PriceExperiment.key == exp_key).scalar_subquery()
    session.execute(
        update(PriceExperimentVariant)
        .where(PriceExperimentVariant.experiment_id == exp_id, PriceExperimentVariant.key == var_key)
        .values(**{name: getattr(PriceExperimentVariant, name) + by for name, by in values.items()})
    )


def record_exposure(
    session: Session,
    variant: VariantPrice | None,
    consent: str | None,
    *,
    client_ip: str | None = None,
    visitor: str | None = None,
) -> bool:
    """Count one exposure, with analytics consent and within the analytics rate limits."""
    if variant is None or not allows_analytics(consent) or not rate_limits.analytics_event(client_ip, visitor):
        return False
    _bump(session, variant, exposures=1)
    return True


def record_conversion(session: Session, experiment: dict, revenue_minor: int) -> None:
    _bump(session, experiment, conversions=1, revenue_minor=revenue_minor)


def experiment_rows(session: Session) -> list[dict[str, str | int]]:
    rows = session.execute(
        select(PriceExperiment, PriceExperimentVariant, Product.title, Product.currency)
        .join(PriceExperimentVariant, PriceExperimentVariant.experiment_id == PriceExperiment.id)
        .join(Product, Product.id == PriceExperiment.product_id)
        .order_by(PriceExperiment.id.desc(), PriceExperimentVariant.sort_order)
    ).all()
    out = []
    for exp, var, title, currency in rows:
        rate = f"{var.conversions / var.exposures:.1%}" if var.exposures else "—"
        out.append(
            {
                "experiment_id": exp.id,
                "experiment": exp.name,
                "key": exp.key,
                "product": title,
                "status": exp.status,
                "variant": var.label,
                "variant_key": var.key,
                "price": f"{var.price_bps / 100:g} %",
                "exposures": var.exposures,
                "conversions": var.conversions,
                "conversion_rate": rate,
                "revenue": format_money(var.revenue_minor, currency),
            }
        )
    return out
