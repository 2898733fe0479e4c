"""Routing: which provider service fulfils an order line, at what cost, inside the margin guardrail.

Routes (`service_routes`) of the product are tried in priority order; the first route whose
conditions match the delivery spec and that is eligible wins. Eligible means: the route,
its service and its provider are active, the service is not vanished or disabled, the
quantity fits the service's min/max, the provider is not down and its known balance covers
the cost and stays above its low-balance threshold, and the margin is at least the floor
(the route's own min_margin_bps, else settings.routing_margin_floor_bps). A margin under
settings.routing_margin_warn_bps is allowed but flagged in the preview.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal

from sqlalchemy import select
from sqlmodel import Session

from smplat.models.catalog import ProductAddOn
from smplat.models.providers import (
    Provider,
    ProviderHealth,
    ProviderService,
    ProviderServiceStatus,
    QuantitySource,
    RouteStep,
    ServiceRoute,
)
from smplat.services.delivery import DeliverySpec
from smplat.settings import get_settings


@dataclass
class RouteCandidate:
    route_id: int | None
    service: ProviderService
    provider: Provider
    quantity: int
    cost_minor: int
    margin_bps: int | None
    eligible: bool = True
    reasons: list[str] = field(default_factory=list)
    warning: str = ""


class NoRoute(Exception):
    """No eligible route: the message lists why each candidate was passed over."""


def cost_minor(rate_per_1000: Decimal, quantity: int) -> int:
    """Provider cost in minor units, rounded up (the guardrail errs on the safe side)."""
    return int((Decimal(rate_per_1000) * quantity / 1000 * 100).to_integral_value(rounding=ROUND_CEILING))


def margin_bps(price_minor: int, cost: int) -> int | None:
    if price_minor <= 0:
        return None
    return (price_minor - cost) * 10000 // price_minor


def conditions_match(conditions: dict, spec: DeliverySpec, quantity: int) -> bool:
    if not conditions:
        return True
    channels = conditions.get("channel")
    if channels and spec.channel not in channels:
        return False
    countries = conditions.get("country")
    if countries and (spec.country or "") not in countries:
        return False
    if conditions.get("min_quantity") is not None and quantity < int(conditions["min_quantity"]):
        return False
    if conditions.get("max_quantity") is not None and quantity > int(conditions["max_quantity"]):
        return False
    if conditions.get("dripfeed") is not None and bool(conditions["dripfeed"]) != spec.is_dripfeed:
        return False
    wanted = conditions.get("options")
    if wanted:
        chosen = {f"{group}:{key}" for group, keys in spec.option_keys.items() for key in keys}
        if not all(option in chosen for option in wanted):
            return False
    return True


@dataclass
class RoutingContext:
    """Everything routing needs for a set of products, loaded in three queries."""

    routes: dict[int, list[ServiceRoute]]
    add_ons: dict[int, list[ProductAddOn]]
    services: dict[int, ProviderService]
    providers: dict[int, Provider]

    @classmethod
    def load(cls, session: Session, product_ids: Iterable[int], step: str = RouteStep.INITIAL.value) -> RoutingContext:
        ids = sorted(set(i for i in product_ids if i is not None))
        routes: dict[int, list[ServiceRoute]] = {i: [] for i in ids}
        add_ons: dict[int, list[ProductAddOn]] = {i: [] for i in ids}
        if ids:
            for route in session.execute(
                select(ServiceRoute)
                .where(ServiceRoute.product_id.in_(ids), ServiceRoute.step == step, ServiceRoute.is_active.is_(True))
                .order_by(ServiceRoute.priority, ServiceRoute.id)
            ).scalars():
                routes[route.product_id].append(route)
            for add_on in session.execute(
                select(ProductAddOn).where(
                    ProductAddOn.product_id.in_(ids),
                    ProductAddOn.provider_service_id.is_not(None),
                    ProductAddOn.is_active.is_(True),
                )
            ).scalars():
                add_ons[add_on.product_id].append(add_on)
        service_ids = {r.provider_service_id for rs in routes.values() for r in rs}
        service_ids |= {a.provider_service_id for al in add_ons.values() for a in al}
        services = (
            {
                s.id: s
                for s in session.execute(select(ProviderService).where(ProviderService.id.in_(service_ids))).scalars()
            }
            if service_ids
            else {}
        )
        provider_ids = {s.provider_id for s in services.values()}
        providers = (
            {p.id: p for p in session.execute(select(Provider).where(Provider.id.in_(provider_ids))).scalars()}
            if provider_ids
            else {}
        )
        return cls(routes, add_ons, services, providers)


def candidates(
    ctx: RoutingContext,
    product_id: int | None,
    spec: DeliverySpec,
    quantity: int,
    price_minor: int,
    *,
    exclude_service_ids: Iterable[int] = (),
    exclude_provider_ids: Iterable[int] = (),
) -> list[RouteCandidate]:
    """Every route of the product that matches the spec, in the order they are tried, with
    eligibility and the reasons a route is passed over."""
    settings = get_settings()
    excluded_services, excluded_providers = set(exclude_service_ids), set(exclude_provider_ids)
    chosen_add_ons = set(spec.add_on_keys)
    options: list[tuple[int | None, int, int | None, QuantitySource | str, Decimal, int | None]] = []
    # a chosen "service override" add-on (premium accounts...) replaces the routed service
    for add_on in ctx.add_ons.get(product_id, []):
        if add_on.key in chosen_add_ons:
            options.append((None, add_on.provider_service_id, None, QuantitySource.ITEM.value, Decimal(1), None))
    for route in ctx.routes.get(product_id, []):
        if route.add_on_id is not None and not any(
            a.id == route.add_on_id and a.key in chosen_add_ons for a in ctx.add_ons.get(product_id, [])
        ):
            continue
        options.append(
            (
                route.id,
                route.provider_service_id,
                route.min_margin_bps,
                route.quantity_source,
                route.quantity_multiplier,
                route.fixed_quantity,
            )
        )
    result: list[RouteCandidate] = []
    for route_id, service_id, route_floor, source, multiplier, fixed in options:
        route = next((r for r in ctx.routes.get(product_id, []) if r.id == route_id), None)
        units = fixed if source == QuantitySource.FIXED.value and fixed else int(quantity * Decimal(multiplier))
        if route is not None and not conditions_match(route.conditions, spec, units):
            continue
        service = ctx.services.get(service_id)
        if service is None:
            continue
        provider = ctx.providers[service.provider_id]
        # a Package's rate is per package, not per 1000 units
        cost = cost_minor(service.rate_per_1000, units * 1000 if service.type == "Package" else units)
        margin = margin_bps(price_minor, cost)
        candidate = RouteCandidate(route_id, service, provider, units, cost, margin)
        reasons = candidate.reasons
        if service.id in excluded_services or provider.id in excluded_providers:
            reasons.append("excluded for this task (tried already)")
        if not provider.is_active:
            reasons.append(f"provider {provider.name} is inactive")
        if provider.health_status == ProviderHealth.DOWN.value:
            reasons.append(f"provider {provider.name} is down")
        if service.status != ProviderServiceStatus.ACTIVE.value:
            reasons.append(f"service {service.external_service_id} is {service.status}")
        # drip-feed goes only to a service that has it (else the line goes in one run, see
        # engine.prepare); the panel then checks the units per run against its range
        runs = spec.dripfeed_runs if spec.is_dripfeed and service.dripfeed else None
        per_call = -(-units // runs) if runs else units
        if not service.min_quantity <= per_call <= service.max_quantity:
            shown = f"{per_call} per run" if runs else str(units)
            reasons.append(f"quantity {shown} outside {service.min_quantity}–{service.max_quantity}")
        if provider.balance is not None:
            threshold = provider.low_balance_threshold or Decimal(0)
            if provider.balance - Decimal(cost) / 100 < threshold:
                reasons.append(f"provider {provider.name} balance {provider.balance} too low")
        floor = route_floor if route_floor is not None else settings.routing_margin_floor_bps
        if margin is not None and margin < floor:
            reasons.append(f"margin {margin / 100:.1f} % below the floor {floor / 100:.1f} %")
        elif margin is not None and margin < settings.routing_margin_warn_bps:
            candidate.warning = f"margin {margin / 100:.1f} % below {settings.routing_margin_warn_bps / 100:.1f} %"
        candidate.eligible = not reasons
        result.append(candidate)
    return result


def choose(
    ctx: RoutingContext,
    product_id: int | None,
    spec: DeliverySpec,
    quantity: int,
    price_minor: int,
    *,
    exclude_service_ids: Iterable[int] = (),
    exclude_provider_ids: Iterable[int] = (),
) -> RouteCandidate:
    """The first eligible route; with exclusions, fall back to excluded-but-otherwise-eligible
    routes (a remainder may go back to the same service when nothing else can take it)."""
    found = candidates(
        ctx,
        product_id,
        spec,
        quantity,
        price_minor,
        exclude_service_ids=exclude_service_ids,
        exclude_provider_ids=exclude_provider_ids,
    )
    for candidate in found:
        if candidate.eligible:
            return candidate
    if exclude_service_ids or exclude_provider_ids:
        for candidate in found:
            if candidate.reasons == ["excluded for this task (tried already)"]:
                return candidate
    if not found:
        raise NoRoute("no route matches this line")
    raise NoRoute("; ".join(f"service {c.service.external_service_id}: {', '.join(c.reasons)}" for c in found))


def preview(session: Session, product_id: int, spec: DeliverySpec, price_minor: int) -> list[RouteCandidate]:
    """The admin's routing preview for one configuration: every matching route with cost,
    margin, warning and why it would be passed over."""
    ctx = RoutingContext.load(session, [product_id])
    return candidates(ctx, product_id, spec, spec.quantity, price_minor)
