"""Pricing experiments: variants of a product's price, sticky assignment, per-variant results.

Assignment is a hash of (experiment key, visitor key) over the variants' weights, so a
visitor sees the same price on every visit without a row per visitor. The visitor key is
the SHA-256 of the browser's cart cookie. Exposures are analytics (consent required);
conversions and revenue are counted when an order is paid (no personal data kept).

Results: each variant is compared with the control (the variant at 100 % of the list price,
else the first) by a pooled two-proportion z-test on the conversion rate (two-sided, 5 %
level), once both have `SMPLAT_EXPERIMENT_MIN_EXPOSURES` visitors. A lower price can convert
better and still earn less, so the admin also sees revenue per visitor, and only a variant
that converts significantly better AND earns more per visitor than the control is suggested.
Promoting a variant stops the experiment and makes its price the list price (base or plan
prices and option prices scaled by its price_bps, each rounded half up), on the published
product and on its unpublished draft, audited.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from smplat.models.catalog import Product, ProductOption, ProductOptionGroup, ProductPlan
from smplat.models.merchandising import ExperimentStatus, PriceExperiment, PriceExperimentVariant
from smplat.services import audit, rate_limits
from smplat.services.catalog_drafts import claim_version
from smplat.services.consent import allows_analytics
from smplat.services.errors import ErrorCode, ServiceError
from smplat.services.money import format_money, percentage_of
from smplat.services.permissions import Permission
from smplat.settings import get_settings

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


SIGNIFICANCE_LEVEL = 0.05


@dataclass(frozen=True)
class ZTest:
    z: float
    p_value: float


def two_proportion_z_test(n_control: int, x_control: int, n_variant: int, x_variant: int) -> ZTest | None:
    """Pooled two-proportion z-test of conversion rates, two-sided.

    z = (p_v - p_c) / sqrt(p (1 - p) (1/n_c + 1/n_v)) with p the pooled rate; the p-value is
    erfc(|z| / sqrt 2). None when it is not defined: no visitors, more conversions than
    visitors, or a pooled rate of 0 or 1 (no variance).

    >>> round(two_proportion_z_test(1000, 100, 1000, 130).p_value, 4)
    0.0355
    """
    if n_control <= 0 or n_variant <= 0 or not (0 <= x_control <= n_control and 0 <= x_variant <= n_variant):
        return None
    pooled = (x_control + x_variant) / (n_control + n_variant)
    variance = pooled * (1 - pooled) * (1 / n_control + 1 / n_variant)
    if variance <= 0:
        return None
    z = (x_variant / n_variant - x_control / n_control) / math.sqrt(variance)
    return ZTest(z=z, p_value=math.erfc(abs(z) / math.sqrt(2)))


def _control(variants: list[PriceExperimentVariant]) -> PriceExperimentVariant:
    return next((v for v in variants if v.price_bps == 10000), variants[0])


def _per_visitor(variant: PriceExperimentVariant) -> float:
    return variant.revenue_minor / variant.exposures if variant.exposures else 0.0


def _verdict(control: PriceExperimentVariant, variant: PriceExperimentVariant, minimum: int) -> tuple[str, str, str]:
    """(verdict, tone, p-value text) of one variant against the control."""
    if variant.id == control.id:
        return "Control", "gray", "—"
    short = [v for v in (control, variant) if v.exposures < minimum]
    if short:
        fewest = min(v.exposures for v in short)
        return f"Needs more data ({fewest} of {minimum} visitors)", "gray", "—"
    test = two_proportion_z_test(control.exposures, control.conversions, variant.exposures, variant.conversions)
    if test is None:
        return "Not comparable (conversions without recorded visits)", "gray", "—"
    p_text = f"{test.p_value:.3f}"
    if test.p_value >= SIGNIFICANCE_LEVEL:
        return "No significant difference yet", "gray", p_text
    if test.z > 0:
        return "Converts better", "green", p_text
    return "Converts worse", "red", p_text


def experiment_rows(session: Session) -> list[dict[str, str | int | bool]]:
    """One row per variant, newest experiment first, with its verdict against the control."""
    rows = session.execute(
        select(PriceExperiment, PriceExperimentVariant, Product.title, Product.currency)
        .join(PriceExperimentVariant, PriceExperimentVariant.experiment_id == PriceExperiment.id)
        .join(Product, Product.id == PriceExperiment.product_id)
        .order_by(PriceExperiment.id.desc(), PriceExperimentVariant.sort_order, PriceExperimentVariant.id)
    ).all()
    minimum = get_settings().experiment_min_exposures
    by_experiment: dict[int, list[PriceExperimentVariant]] = {}
    for exp, var, _title, _currency in rows:
        by_experiment.setdefault(exp.id, []).append(var)
    suggested: dict[int, int] = {}
    for exp_id, variants in by_experiment.items():
        control = _control(variants)
        better = [
            v
            for v in variants
            if _verdict(control, v, minimum)[0] == "Converts better" and _per_visitor(v) > _per_visitor(control)
        ]
        if better:
            suggested[exp_id] = max(better, key=_per_visitor).id
    out: list[dict[str, str | int | bool]] = []
    for exp, var, title, currency in rows:
        control = _control(by_experiment[exp.id])
        verdict, tone, p_text = _verdict(control, var, minimum)
        rate = f"{var.conversions / var.exposures:.1%}" if var.exposures else "—"
        promoted = exp.status == ExperimentStatus.PROMOTED.value
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
                "per_visitor": format_money(round(_per_visitor(var)), currency) if var.exposures else "—",
                "verdict": ("Promoted" if promoted and exp.promoted_variant_key == var.key else verdict),
                "tone": "violet" if promoted and exp.promoted_variant_key == var.key else tone,
                "p_value": p_text,
                "suggested": suggested.get(exp.id) == var.id and not promoted,
                "can_promote": not promoted and var.id != control.id,
            }
        )
    return out


def _prices(session: Session, product_id: int) -> dict[str, int]:
    """Every list price of a product that an experiment's price_bps scales, by a stable name."""
    product = session.get(Product, product_id)
    prices = {"base": product.base_price_minor}
    for plan in session.execute(select(ProductPlan).where(ProductPlan.product_id == product_id)).scalars():
        prices[f"plan:{plan.key}"] = plan.price_minor
    options = session.execute(
        select(ProductOptionGroup.key, ProductOption)
        .join(ProductOption, ProductOption.group_id == ProductOptionGroup.id)
        .where(ProductOptionGroup.product_id == product_id)
    ).all()
    for group_key, option in options:
        prices[f"option:{group_key}:{option.key}"] = option.price_delta_minor
    return prices


def _scale_prices(session: Session, product_id: int, bps: int) -> None:
    product = session.get(Product, product_id)
    product.base_price_minor = percentage_of(product.base_price_minor, bps)
    for plan in session.execute(select(ProductPlan).where(ProductPlan.product_id == product_id)).scalars():
        plan.price_minor = percentage_of(plan.price_minor, bps)
    group_ids = select(ProductOptionGroup.id).where(ProductOptionGroup.product_id == product_id)
    for option in session.execute(select(ProductOption).where(ProductOption.group_id.in_(group_ids))).scalars():
        option.price_delta_minor = percentage_of(option.price_delta_minor, bps)
    session.flush()


def promote_variant(session: Session, experiment_id: int, variant_key: str, *, actor: audit.Actor) -> PriceExperiment:
    """Stop the experiment and make the variant's price the product's list price.

    The published product and its unpublished draft (if one is open) are both re-priced and
    their versions bumped, so an editor opened before the promotion cannot save the old prices
    back over it. Refused for the control, a promoted experiment or an unknown variant."""
    audit.require(actor, Permission.MANAGE_EXPERIMENTS, "experiment.promote", "experiment", experiment_id)
    audit.require(actor, Permission.EDIT_CATALOG, "experiment.promote", "experiment", experiment_id)
    experiment = session.get(PriceExperiment, experiment_id)
    if experiment is None:
        raise ExperimentError("No such experiment.", code=ErrorCode.NOT_FOUND)
    if experiment.status == ExperimentStatus.PROMOTED.value:
        raise ExperimentError(
            f"This experiment was promoted already ({experiment.promoted_variant_key}).", code=ErrorCode.CONFLICT
        )
    variants = list(
        session.execute(
            select(PriceExperimentVariant)
            .where(PriceExperimentVariant.experiment_id == experiment_id)
            .order_by(PriceExperimentVariant.sort_order, PriceExperimentVariant.id)
        ).scalars()
    )
    variant = next((v for v in variants if v.key == variant_key), None)
    if variant is None:
        raise ExperimentError("No such variant in this experiment.", code=ErrorCode.NOT_FOUND, field="variant")
    if variant.id == _control(variants).id:
        raise ExperimentError(
            "The control is the list price already: stop the experiment instead.", code=ErrorCode.NOT_ALLOWED
        )
    product_ids = [experiment.product_id] + list(
        session.execute(select(Product.id).where(Product.draft_of_id == experiment.product_id)).scalars()
    )
    before = {str(pid): _prices(session, pid) for pid in product_ids}
    for pid in product_ids:
        version = session.execute(select(Product.version).where(Product.id == pid)).scalar_one()
        claim_version(session, pid, version)
        _scale_prices(session, pid, variant.price_bps)
    after = {str(pid): _prices(session, pid) for pid in product_ids}
    was = experiment.status
    experiment.status = ExperimentStatus.PROMOTED.value
    experiment.promoted_variant_key = variant.key
    session.flush()
    audit.record(
        session,
        actor,
        "experiment.promote",
        "experiment",
        experiment_id,
        before={"status": was, "prices": before},
        after={"status": experiment.status, "promoted": variant.key, "price_bps": variant.price_bps, "prices": after},
    )
    return experiment
