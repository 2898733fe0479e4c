"""The one pricing service: validates a configuration against its product and prices it.

Product page, cart, checkout, link regeneration, saved configurations and the admin
previews all call `price_for()`, which validates, looks up (or is given) the pricing
experiment's variant and prices once; the browser sends only choices (option/add-on/plan
keys, field values, a quantity), never a price. Field values are typed once: a field
declares its kind (`integer` for whole days, `number`, `url`...), `validate` refuses a
value of another type and keeps it in canonical form, and consumers read it with
`field_value`. The drip-feed rule (`drip_feed`) is written once, here, and the delivery
promise of a configuration (`delivery_promise`) is read from `services.delivery_promise`.

Price of one configured package (all integers in the product currency's minor units):

1. start: the chosen plan's `price_minor` when a plan is chosen, else `base_price_minor`
   (the smallest package's price);
2. add every chosen option's `price_delta_minor`;
3. a running pricing experiment's variant scales that configured price by
   `price_bps / 10000`;
4. add-ons: flat adds `amount_minor`; percentage adds `percentage_bps` of the configured
   price from step 3 (never of other add-ons, so the order of add-ons does not matter);
   a provider-service override adds its `amount_minor` and routes the line to its service.

5. bundles (a cart-level rule, `with_bundle_discounts`): when one cart holds a line of a
   bundle's primary product and a line of every product the bundle lists, every one-time
   line of a listed product (never the primary product's, never a subscription, which would
   renew discounted for ever) gets `discount_bps` off its unit price. A line two bundles
   could discount gets the larger discount only (no stacking). Remove any line the bundle
   needs and the discount goes with the next pricing.

Rounding: each percentage (experiment and every add-on) is rounded on its own to a whole
minor unit, half up (0.5 goes away from zero), before it is added. The line total is the
rounded unit price times the quantity, so a line always equals unit x quantity exactly (a
bundle discount too is rounded per package: 10 % of €4.95 is €0.50 off each package).
Minor units are what the currency has (cents for EUR, yen for JPY, fils for BHD), so the
same integer rule holds for every currency; `money.exponent` only matters for display.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from sqlmodel import Session

from smplat.models.catalog import (
    AddOnPricingMode,
    CustomFieldType,
    OptionSelection,
    PlanBilling,
    ProductCustomField,
)
from smplat.services import delivery_promise as delivery_promises
from smplat.services import experiments, links
from smplat.services.catalog import ProductDetail
from smplat.services.errors import ErrorCode, ServiceError
from smplat.services.experiments import VariantPrice
from smplat.services.expressions import ExpressionError, evaluate
from smplat.services.money import format_money, percentage_of

MAX_LINE_QUANTITY = 100
MAX_FIELD_LENGTH = 2000
MAX_INTEGER_FIELD = 1_000_000_000  # a whole-number field never holds more, whatever its own maximum
_INTEGER_RE = re.compile(r"^[+-]?[0-9]+$")
CHANNELS = ("storefront", "api", "admin")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class PricingError(RuntimeError):
    """The catalog itself is inconsistent (a plan in another currency...): our bug, not the customer's."""


class ConfigurationInvalid(ServiceError, ValueError):
    """The configuration breaks a rule (code INVALID). `errors` maps where (e.g.
    "fields.username", "options.package", "quantity") to a message a customer can act on."""

    def __init__(self, errors: dict[str, str]) -> None:
        errors = dict(errors)
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()), code=ErrorCode.INVALID, errors=errors)


@dataclass(frozen=True)
class Configuration:
    """A customer's choices, normalised: every group maps to a list of option keys."""

    options: dict[str, list[str]] = field(default_factory=dict)
    add_ons: list[str] = field(default_factory=list)
    plan: str | None = None
    fields: dict[str, str] = field(default_factory=dict)
    preset: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "options": {k: list(v) for k, v in self.options.items()},
            "add_ons": list(self.add_ons),
            "plan": self.plan,
            "fields": dict(self.fields),
            "preset": self.preset,
        }

    def selected_option_refs(self) -> set[str]:
        return {f"{group}:{key}" for group, keys in self.options.items() for key in keys}


@dataclass(frozen=True)
class BreakdownLine:
    kind: str  # base, plan, option, experiment, add_on
    label: str
    amount_minor: int

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "label": self.label, "amount_minor": self.amount_minor}


@dataclass(frozen=True)
class Quote:
    product_id: int
    currency: str
    configuration: Configuration
    quantity: int
    unit_price_minor: int
    total_minor: int
    breakdown: list[BreakdownLine]
    billing: str  # one_time or subscription
    interval: str | None
    interval_count: int
    service_units: int  # per package (e.g. 1000 followers)
    override_service_id: int | None
    experiment: VariantPrice | None
    # typed values still to fix, when priced with fields="collect" (the configurator while typing)
    field_errors: dict[str, str] = field(default_factory=dict)
    # the bundle discount this line gets in its cart (`with_bundle_discounts`), else None
    bundle: dict[str, Any] | None = None

    def breakdown_dicts(self) -> list[dict[str, Any]]:
        return [line.as_dict() for line in self.breakdown]

    def price_record(self) -> dict[str, Any]:
        """What carts, checkout lines and order snapshots store about the price."""
        return {
            "currency": self.currency,
            "unit_price_minor": self.unit_price_minor,
            "quantity": self.quantity,
            "total_minor": self.total_minor,
            "lines": self.breakdown_dicts(),
            "billing": self.billing,
            "interval": self.interval,
            "interval_count": self.interval_count,
            "experiment": self.experiment.as_record() if self.experiment else None,
            **({"bundle": dict(self.bundle)} if self.bundle else {}),
        }


# --- configuration shape ---------------------------------------------------------------


def _keys(value: Any, where: str, errors: dict[str, str]) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    errors[where] = "must be an option key or a list of option keys"
    return []


def normalize(raw: Any) -> Configuration:
    """Turn what a page, API call or stored cart holds into a Configuration; refuse bad shapes."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigurationInvalid({"configuration": "must be an object"})
    errors: dict[str, str] = {}
    unknown = set(raw) - {"options", "add_ons", "plan", "fields", "preset"}
    if unknown:
        errors["configuration"] = f"unknown part: {', '.join(sorted(unknown))}"
    options_raw = raw.get("options") or {}
    options: dict[str, list[str]] = {}
    if not isinstance(options_raw, dict):
        errors["options"] = "must map option groups to option keys"
    else:
        for group, value in options_raw.items():
            keys = _keys(value, f"options.{group}", errors)
            if keys:
                options[str(group)] = keys
    add_ons_raw = raw.get("add_ons") or []
    if not isinstance(add_ons_raw, list) or not all(isinstance(a, str) for a in add_ons_raw):
        errors["add_ons"] = "must be a list of add-on keys"
        add_ons_raw = []
    plan = raw.get("plan")
    if plan is not None and not isinstance(plan, str):
        errors["plan"] = "must be a plan key"
        plan = None
    fields_raw = raw.get("fields") or {}
    fields: dict[str, str] = {}
    if not isinstance(fields_raw, dict):
        errors["fields"] = "must map field keys to values"
    else:
        for key, value in fields_raw.items():
            if isinstance(value, bool) or not isinstance(value, (str, int, float)) or value is None:
                errors[f"fields.{key}"] = "must be text or a number"
                continue
            text = str(value).strip()
            if len(text) > MAX_FIELD_LENGTH:
                errors[f"fields.{key}"] = f"must be at most {MAX_FIELD_LENGTH} characters"
                continue
            fields[str(key)] = text
    preset = raw.get("preset")
    if preset is not None and not isinstance(preset, str):
        errors["preset"] = "must be a preset key"
        preset = None
    if errors:
        raise ConfigurationInvalid(errors)
    return Configuration(
        options=options,
        add_ons=list(dict.fromkeys(add_ons_raw)),
        plan=plan or None,
        fields=fields,
        preset=preset or None,
    )


def from_preset(detail: ProductDetail, preset_key: str) -> Configuration:
    preset = next((p for p in detail.presets if p.key == preset_key), None)
    if preset is None:
        raise ConfigurationInvalid({"preset": "this preset does not exist for this product"})
    selection = dict(preset.selection or {})
    selection["preset"] = preset.key
    return normalize(selection)


def default_configuration(detail: ProductDetail) -> Configuration:
    """The first option of every required group, the first plan, field defaults."""
    options = {g.key: [opts[0].key] for g, opts in detail.groups if g.required and opts}
    plan = detail.plans[0].key if detail.plans else None
    fields = {f.key: f.default_value for f in detail.fields if f.default_value}
    return Configuration(options=options, plan=plan, fields=fields)


# --- visibility ------------------------------------------------------------------------


def is_visible(rules: dict[str, Any] | None, config: Configuration, channel: str = "storefront") -> bool:
    """Does a custom field show for this configuration? Empty rules: always. Unknown
    condition kinds count as unmet, so a malformed rule hides rather than misleads."""
    if not rules:
        return True
    conditions = rules.get("conditions") or []
    if not conditions:
        return True
    selected = config.selected_option_refs()

    def met(condition: Any) -> bool:
        if not isinstance(condition, dict) or len(condition) != 1:
            return False
        ((kind, value),) = condition.items()
        if kind == "option":
            return value in selected
        if kind == "add_on":
            return value in config.add_ons
        if kind == "plan":
            return config.plan == value
        if kind == "channel":
            return channel in (value if isinstance(value, list) else [value])
        return False

    results = [met(c) for c in conditions]
    return any(results) if rules.get("match") == "any" else all(results)


# --- validation ------------------------------------------------------------------------


def parse_integer(value: str) -> int | None:
    """A whole number as typed ("3", "+3", "-2"), or None ("2.5", "1e3", "abc", "")."""
    text = (value or "").strip()
    return int(text) if len(text) <= 100 and _INTEGER_RE.match(text) else None


def field_value(spec: ProductCustomField, value: str) -> int | Decimal | str | None:
    """A typed value in the type its field declares: int for integer fields, Decimal for
    number fields, text otherwise; None when it is empty or not of that type. Consumers
    (delivery, calculators) read typed values through this, never with their own parsing."""
    if not value:
        return None
    if spec.field_type == CustomFieldType.INTEGER.value:
        return parse_integer(value)
    if spec.field_type == CustomFieldType.NUMBER.value:
        try:
            number = Decimal(value)
        except InvalidOperation:
            return None
        return number if number.is_finite() else None
    return value


def choice_values(spec: ProductCustomField) -> list[str]:
    """The values a choice field accepts, in the order the builder saved them."""
    return [str(c.get("value")) for c in (spec.choices or []) if isinstance(c, dict) and c.get("value") is not None]


def _check_range(spec: ProductCustomField, number: int | Decimal) -> str | None:
    if spec.min_value is not None and number < spec.min_value:
        return f"{spec.label} must be at least {spec.min_value.normalize():f}."
    if spec.max_value is not None and number > spec.max_value:
        return f"{spec.label} must be at most {spec.max_value.normalize():f}."
    return None


def _canonical(spec: ProductCustomField, platform: str, value: str) -> tuple[str, str | None]:
    """Links and handles in their platform's canonical form (`services.links`), or the problem."""
    if not value or spec.field_type not in (CustomFieldType.URL.value, CustomFieldType.HANDLE.value):
        return value, None
    try:
        return links.normalise_field(spec.field_type, platform, spec.key, value), None
    except links.LinkInvalid as exc:
        # The catalog's own words for the field first (they show an example), else ours; a link
        # typed where a handle is asked gets ours ("Use a link to Instagram"), which say more.
        link_for_handle = spec.field_type == CustomFieldType.HANDLE.value and "/" in value
        return value, (not link_for_handle and spec.regex_message) or f"{spec.label}: {exc.message}"


def _check_field(spec: ProductCustomField, value: str) -> str | None:
    label = spec.label
    if not value:
        return f"{label} is required." if spec.required else None
    if spec.field_type == CustomFieldType.INTEGER.value:
        whole = parse_integer(value)
        if whole is None:
            return f"{label} must be a whole number, e.g. 3."
        problem = _check_range(spec, whole)
        if problem:
            return problem
        if abs(whole) > MAX_INTEGER_FIELD:
            return f"{label} must be at most {MAX_INTEGER_FIELD:,}."
    if spec.field_type == CustomFieldType.NUMBER.value:
        try:
            number = Decimal(value)
        except InvalidOperation:
            return f"{label} must be a number."
        if not number.is_finite():
            return f"{label} must be a number."
        problem = _check_range(spec, number)
        if problem:
            return problem
    if spec.field_type == CustomFieldType.URL.value and not re.match(r"^https?://[^\s]+$", value):
        return f"{label} must be a link starting with https://."
    if spec.field_type == CustomFieldType.EMAIL.value and not _EMAIL_RE.match(value):
        return f"{label} must be an email address."
    if spec.field_type == CustomFieldType.CHOICE.value:
        allowed = choice_values(spec)
        if value not in allowed:
            shown = ", ".join(str(c.get("label") or c.get("value")) for c in spec.choices or [])
            return f"{label}: choose one of {shown}." if shown else f"{label} has nothing to choose from."
    if spec.regex_pattern:
        try:
            matched = re.fullmatch(spec.regex_pattern, value) is not None
        except re.error:
            raise PricingError(f"field {spec.key}: invalid regex in the catalog") from None
        if not matched:
            return spec.regex_message or f"{label} is not in the expected format."
    return None


def check_value(spec: ProductCustomField, platform: str, value: str) -> tuple[str, str | None]:
    """One typed value judged by its field's rules exactly as a customer's would be: (the value
    in canonical form, the problem or None). The field builder checks defaults, sample values
    and its live tester with this, so the builder and the storefront never disagree."""
    value, problem = _canonical(spec, platform, value)
    problem = problem or _check_field(spec, value)
    if not problem and value and spec.field_type == CustomFieldType.INTEGER.value:
        value = str(parse_integer(value))  # kept as `validate` keeps it ("+03" -> "3")
    return value, problem


def validate(
    detail: ProductDetail, config: Configuration, *, quantity: int = 1, channel: str = "storefront"
) -> Configuration:
    """Check every choice against the product; return the configuration with hidden
    fields dropped and defaults filled in. Raises ConfigurationInvalid listing every problem."""
    valid, errors = _checked(detail, config, quantity=quantity, channel=channel)
    if errors:
        raise ConfigurationInvalid(errors)
    return valid


def _checked(
    detail: ProductDetail, config: Configuration, *, quantity: int, channel: str, check_fields: bool = True
) -> tuple[Configuration, dict[str, str]]:
    """Every rule at once: the configuration as it will be kept (valid typed values only)
    and every problem found, by where it is."""
    errors: dict[str, str] = {}
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= MAX_LINE_QUANTITY:
        errors["quantity"] = f"Choose a quantity from 1 to {MAX_LINE_QUANTITY}."
    if channel not in CHANNELS:
        errors["channel"] = "unknown sales channel"

    groups = {g.key: (g, {o.key: o for o in opts}) for g, opts in detail.groups}
    for group_key, keys in config.options.items():
        if group_key not in groups:
            errors[f"options.{group_key}"] = "This product has no such choice."
            continue
        group, options = groups[group_key]
        if group.selection == OptionSelection.SINGLE.value and len(keys) > 1:
            errors[f"options.{group_key}"] = f"Choose one {group.name.lower()}."
        unknown = [k for k in keys if k not in options]
        if unknown:
            errors[f"options.{group_key}"] = f"{unknown[0]!r} is not a {group.name.lower()} of this product."
        if len(set(keys)) != len(keys):
            errors[f"options.{group_key}"] = "An option was chosen twice."
    if not detail.dripfeed_available and "gradual" in config.options.get("speed", []):
        # the catalog leaves the option out; a detail read for the admin still has it
        errors["options.speed"] = "Gradual delivery is not available for this product."
    for group_key, (group, options) in groups.items():
        if group.required and options and not config.options.get(group_key):
            errors[f"options.{group_key}"] = f"Choose a {group.name.lower()}."

    add_ons = {a.key for a in detail.add_ons}
    unknown_add_ons = [a for a in config.add_ons if a not in add_ons]
    if unknown_add_ons:
        errors["add_ons"] = f"{unknown_add_ons[0]!r} is not an add-on of this product."

    plans = {p.key: p for p in detail.plans}
    if config.plan is not None and config.plan not in plans:
        errors["plan"] = "This plan is not available for this product."
    elif config.plan is None and plans:
        errors["plan"] = "Choose a plan."

    if config.preset is not None and config.preset not in {p.key for p in detail.presets}:
        errors["preset"] = "This preset does not exist for this product."

    field_specs = {f.key: f for f in detail.fields}
    for key in config.fields:
        if key not in field_specs:
            errors[f"fields.{key}"] = "This product has no such field."
    kept: dict[str, str] = {}
    for spec in detail.fields if check_fields else []:
        if not is_visible(spec.visibility_rules, config, channel):
            continue  # hidden: its value is neither required nor kept
        value = config.fields.get(spec.key, "") or spec.default_value or ""
        value, problem = _canonical(spec, detail.product.platform, value)
        problem = problem or _check_field(spec, value)
        if problem:
            errors[f"fields.{spec.key}"] = problem
        elif value:
            # stored as typed once: a whole number in its canonical form ("+03" -> "3")
            kept[spec.key] = str(parse_integer(value)) if spec.field_type == CustomFieldType.INTEGER.value else value

    _check_line_counts(detail, config, quantity, kept, errors)
    return Configuration(
        options={k: list(v) for k, v in config.options.items() if v},
        add_ons=list(config.add_ons),
        plan=config.plan,
        fields=kept,
        preset=config.preset,
    ), errors


# Fields whose lines are the units delivered (the panel counts them: Custom Comments,
# Mentions Custom List): one line per unit bought, so what is paid is what is delivered.
ONE_LINE_PER_UNIT_FIELDS = {"custom_comments": "comments", "usernames": "usernames"}


def _check_line_counts(
    detail: ProductDetail, config: Configuration, quantity: int, kept: dict[str, str], errors: dict[str, str]
) -> None:
    units = sum(o.quantity or 0 for o in _chosen_options(detail, config)) or detail.product.min_quantity
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
        return
    for key, noun in ONE_LINE_PER_UNIT_FIELDS.items():
        if key not in kept:
            continue
        lines = [line for line in kept[key].splitlines() if line.strip()]
        wanted = units * quantity
        if len(lines) != wanted:
            errors[f"fields.{key}"] = f"Give {wanted:,} {noun}, one per line (you gave {len(lines):,})."


# --- pricing ---------------------------------------------------------------------------


def price(
    detail: ProductDetail, config: Configuration, *, quantity: int = 1, variant: VariantPrice | None = None
) -> Quote:
    """Price an already validated configuration (see the module docstring for the rules)."""
    product = detail.product
    currency = product.currency
    lines: list[BreakdownLine] = []
    plan = next((p for p in detail.plans if p.key == config.plan), None)
    if plan is not None:
        if plan.currency != currency:
            raise PricingError(f"plan {plan.key} is in {plan.currency}, product {product.slug} in {currency}")
        configured = plan.price_minor
        lines.append(BreakdownLine("plan", plan.name, plan.price_minor))
    else:
        configured = product.base_price_minor
        lines.append(BreakdownLine("base", "Base price", product.base_price_minor))
    service_units = 0
    for group, options in detail.groups:
        for option in options:
            if option.key in config.options.get(group.key, []):
                if option.price_delta_minor:
                    configured += option.price_delta_minor
                    lines.append(BreakdownLine("option", f"{group.name}: {option.label}", option.price_delta_minor))
                if option.quantity:
                    service_units += option.quantity
    if variant is not None and variant.price_bps != 10000:
        adjusted = percentage_of(configured, variant.price_bps)
        lines.append(BreakdownLine("experiment", "Special price", adjusted - configured))
        configured = adjusted
    unit = configured
    override_service_id: int | None = None
    for add_on in detail.add_ons:
        if add_on.key not in config.add_ons:
            continue
        if add_on.pricing_mode == AddOnPricingMode.PERCENTAGE.value:
            amount = percentage_of(configured, add_on.percentage_bps)
        elif add_on.pricing_mode == AddOnPricingMode.SERVICE_OVERRIDE.value:
            amount = add_on.amount_minor
            override_service_id = add_on.provider_service_id
        else:
            amount = add_on.amount_minor
        unit += amount
        lines.append(BreakdownLine("add_on", add_on.label, amount))
    if unit < 0:
        raise PricingError(f"product {product.slug}: configuration prices below zero")
    billing = plan.billing if plan is not None else PlanBilling.ONE_TIME.value
    return Quote(
        product_id=product.id,
        currency=currency,
        configuration=config,
        quantity=quantity,
        unit_price_minor=unit,
        total_minor=unit * quantity,
        breakdown=lines,
        billing=billing,
        interval=plan.interval if plan is not None and billing == PlanBilling.SUBSCRIPTION.value else None,
        interval_count=plan.interval_count if plan is not None else 1,
        service_units=service_units or product.min_quantity,
        override_service_id=override_service_id,
        experiment=variant,
    )


def quote(
    detail: ProductDetail,
    raw_configuration: Any,
    *,
    quantity: int = 1,
    channel: str = "storefront",
    variant: VariantPrice | None = None,
) -> Quote:
    """Validate then price with a given variant, without a database (the rules alone, for
    tests and `price_for`). Pages, services and jobs call `price_for`."""
    config = raw_configuration if isinstance(raw_configuration, Configuration) else normalize(raw_configuration)
    valid = validate(detail, config, quantity=quantity, channel=channel)
    return price(detail, valid, quantity=quantity, variant=variant)


FIELDS_CHECK = "check"  # typed values are validated like every choice (cart, checkout, saving)
FIELDS_COLLECT = "collect"  # field problems are reported on the quote, the choices still priced (configurator)
FIELDS_SKIP = "skip"  # typed values are neither checked nor kept (admin previews of a package)


def price_for(
    session: Session,
    detail: ProductDetail,
    raw_configuration: Any,
    *,
    quantity: int = 1,
    channel: str = "storefront",
    visitor: str | None = None,
    variant: VariantPrice | None = None,
    fields: str = FIELDS_CHECK,
) -> Quote:
    """The one price entry point: the product page, cart, checkout, link regeneration, saved
    configurations and the admin previews all call it. Validates, then prices once, with the
    pricing experiment's variant carried in the quote (and so in every stored price record).

    The variant is either the visitor's assignment (`visitor`: the hash of the cart cookie; one
    query for the product's running experiment) or one recorded earlier (`variant`: a checkout
    line's, when an operator regenerates its link); neither means the list price. The
    currency is the product's. Raises ConfigurationInvalid listing every problem (with
    `fields="collect"`, only when a choice is wrong: typed values go to `Quote.field_errors`)."""
    if visitor is not None and variant is not None:
        raise TypeError("price_for takes a visitor or a recorded variant, not both")
    if fields not in (FIELDS_CHECK, FIELDS_COLLECT, FIELDS_SKIP):
        raise TypeError(f"unknown fields mode {fields!r}")
    config = raw_configuration if isinstance(raw_configuration, Configuration) else normalize(raw_configuration)
    valid, errors = _checked(detail, config, quantity=quantity, channel=channel, check_fields=fields != FIELDS_SKIP)
    field_errors = {k: v for k, v in errors.items() if k.startswith("fields.")}
    if errors and (fields != FIELDS_COLLECT or len(field_errors) != len(errors)):
        raise ConfigurationInvalid(errors)
    if variant is None and visitor:
        variant = experiments.variant_for(session, detail.product.id, visitor)
    quoted = price(detail, valid, quantity=quantity, variant=variant)
    return replace(quoted, field_errors=field_errors) if field_errors else quoted


# --- what the configurator shows beside the price ---------------------------------------


def _chosen_options(detail: ProductDetail, config: Configuration) -> list[Any]:
    return [o for g, opts in detail.groups for o in opts if o.key in config.options.get(g.key, [])]


DRIP_FEED_DAYS_FIELD = "drip_days"
DEFAULT_DRIP_FEED_DAYS = 3


@dataclass(frozen=True)
class DripFeed:
    """Gradual delivery: the package spread over whole days, one run a day."""

    days: int

    @property
    def hours(self) -> int:
        return self.days * 24

    @property
    def runs(self) -> int | None:
        """Provider runs; one day is a single delivery, not a drip-feed."""
        return self.days if self.days >= 2 else None

    @property
    def interval_minutes(self) -> int | None:
        return 24 * 60 if self.runs is not None else None


def drip_feed(detail: ProductDetail, config: Configuration) -> DripFeed | None:
    """The one drip-feed rule, read by the delivery estimate and the delivery spec alike.

    Gradual speed spreads the package over the `drip_days` whole-number field (its default,
    else 3, when empty). A value its field refuses (only possible before validation, e.g. on
    the product page while the customer is still typing) counts as the default."""
    if "gradual" not in config.options.get("speed", []):
        return None
    spec = next((f for f in detail.fields if f.key == DRIP_FEED_DAYS_FIELD), None)
    days: Any = None
    if spec is not None:
        value = config.fields.get(spec.key) or spec.default_value or ""
        if value and _check_field(spec, value) is None:
            days = field_value(spec, value)
    if isinstance(days, Decimal) and days == days.to_integral_value():
        days = int(days)  # a shop whose field is still typed "number"
    if not isinstance(days, int) or days < 1:
        days = DEFAULT_DRIP_FEED_DAYS
    return DripFeed(days=days)


def delivery_promise(
    detail: ProductDetail, config: Configuration, *, quantity: int = 1
) -> delivery_promises.DeliveryPromise:
    """The one delivery promise of a configuration (`services.delivery_promise`): its units
    (chosen packages x `quantity`), its speed, and the drip-feed days for gradual delivery."""
    units = (sum(o.quantity or 0 for o in _chosen_options(detail, config)) or detail.product.min_quantity) * max(
        1, quantity if isinstance(quantity, int) else 1
    )
    speeds = config.options.get("speed", [])
    drip = drip_feed(detail, config)
    speed = "gradual" if drip is not None else "express" if "express" in speeds else "standard"
    return delivery_promises.promise(
        detail.product.delivery_estimate_hours,
        units=units,
        unit_label=detail.product.unit_label,
        speed=speed,
        drip_days=drip.days if drip is not None else None,
    )


def delivery_estimate_hours(detail: ProductDetail, config: Configuration, *, quantity: int = 1) -> int:
    """Hours until the configuration is delivered: the delivery promise's (one rule)."""
    return delivery_promise(detail, config, quantity=quantity).hours


def calculator_text(detail: ProductDetail, config: Configuration, *, quantity: int = 1) -> str:
    """The chosen package's calculator over the delivery promise's days, e.g. "about 334
    followers a day over 3 days", or "" (no calculator, or delivery within a day)."""
    days = delivery_promise(detail, config, quantity=quantity).days
    for option in _chosen_options(detail, config):
        calc = (option.blueprint or {}).get("calculator") or {}
        expression = calc.get("expression")
        if not expression:
            continue
        inputs = dict(calc.get("sample_inputs") or {})
        if "days" in inputs:
            if days < 2:
                return ""  # a one-day delivery has no daily pace to speak of
            inputs["days"] = days
        try:
            value = evaluate(expression, inputs)
        except ExpressionError:
            return ""
        unit = detail.product.unit_label.replace(" / month", "")
        over = f" over {inputs['days']} days" if "days" in inputs else ""
        return f"about {int(value.to_integral_value(rounding=ROUND_HALF_UP)):,} {unit} a day{over}"
    return ""


def blueprint_snapshot(detail: ProductDetail, config: Configuration) -> list[dict[str, Any]]:
    """Per chosen option: its blueprint copy as shown at purchase (frozen into the order)."""
    out = []
    for group, options in detail.groups:
        for option in options:
            if option.key in config.options.get(group.key, []):
                bp = option.blueprint or {}
                out.append(
                    {
                        "group": group.key,
                        "group_name": group.name,
                        "option": option.key,
                        "label": option.label,
                        "tagline": str(bp.get("tagline", "")),
                        "delivery_sla": str(bp.get("delivery_sla", "")),
                        "hero_image": str(bp.get("hero_image", "")),
                    }
                )
    return out


def summary(detail: ProductDetail, config: Configuration) -> str:
    """One line a customer recognises: "1,000 followers · Express · + Priority start"."""
    parts = [o.label for o in _chosen_options(detail, config)]
    parts += [f"+ {a.label}" for a in detail.add_ons if a.key in config.add_ons]
    plan = next((p for p in detail.plans if p.key == config.plan), None)
    if plan is not None and plan.billing == PlanBilling.SUBSCRIPTION.value:
        parts.append(plan.name)
    return " · ".join(parts)


def format_breakdown(quote_: Quote, detail: ProductDetail) -> list[dict[str, str]]:
    """The price as a customer reads a receipt, per package: what they get ("1,000 followers
    €12.00", the plan and chosen options priced together), then a special price, then each
    add-on, then the total for all packages. The stored breakdown keeps every line apart."""
    money = lambda minor: format_money(minor, quote_.currency)  # noqa: E731
    base = [line for line in quote_.breakdown if line.kind in ("plan", "base", "option")]
    chosen = [option.label for option in _chosen_options(detail, quote_.configuration)]
    plan = next((line.label for line in base if line.kind in ("plan", "base")), "")
    rows = [
        {"kind": "item", "label": " · ".join(chosen) or plan, "amount": money(sum(line.amount_minor for line in base))}
    ]
    for line in quote_.breakdown:
        if line.kind == "experiment":
            rows.append({"kind": "adjustment", "label": line.label, "amount": money(line.amount_minor)})
        elif line.kind == "add_on":
            rows.append({"kind": "add_on", "label": f"+ {line.label}", "amount": money(line.amount_minor)})
        elif line.kind == "bundle":
            rows.append({"kind": "discount", "label": line.label, "amount": money(line.amount_minor)})
    packages = "1 package" if quote_.quantity == 1 else f"{quote_.quantity} packages"
    rows.append({"kind": "total", "label": f"Total ({packages})", "amount": money(quote_.total_minor)})
    return rows


# --- bundles: the one cart-level price rule ---------------------------------------------------


def bundle_label(title: str, discount_bps: int) -> str:
    return f"{title} bundle ({discount_bps / 100:g} % off)"


def apply_bundle(quote_: Quote, *, slug: str, title: str, discount_bps: int) -> Quote:
    """The quote with a bundle's discount: `discount_bps` of the unit price, rounded half up
    to a whole minor unit, off each package; the line stays unit x quantity exactly."""
    if quote_.billing != PlanBilling.ONE_TIME.value or discount_bps <= 0:
        return quote_
    unit_off = min(percentage_of(quote_.unit_price_minor, discount_bps), quote_.unit_price_minor)
    if unit_off <= 0:
        return quote_
    unit = quote_.unit_price_minor - unit_off
    return replace(
        quote_,
        unit_price_minor=unit,
        total_minor=unit * quote_.quantity,
        breakdown=[*quote_.breakdown, BreakdownLine("bundle", bundle_label(title, discount_bps), -unit_off)],
        bundle={
            "slug": slug,
            "title": title,
            "discount_bps": discount_bps,
            "unit_discount_minor": unit_off,
            "discount_minor": unit_off * quote_.quantity,
        },
    )


def with_bundle_discounts(session: Session, quotes: list[Quote]) -> list[Quote]:
    """The quotes of one cart (or checkout), in order, with every bundle discount they earn
    together applied (rule 5 of the module docstring). At most two queries, none for a cart
    of a single product."""
    from smplat.services import bundles

    discounts = bundles.discounts_for(session, {q.product_id for q in quotes})
    out = []
    for q in quotes:
        offer = discounts.get(q.product_id)
        out.append(apply_bundle(q, slug=offer.slug, title=offer.title, discount_bps=offer.discount_bps) if offer else q)
    return out


# --- what a customer reads about their typed details --------------------------------------------


def field_labels(detail: ProductDetail) -> dict[str, str]:
    """Field key -> the label the customer saw ("post_link" -> "Post or reel link")."""
    return {f.key: f.label for f in detail.fields}


def describe_fields(fields: dict[str, Any], labels: dict[str, str] | None = None) -> str:
    """Typed details as a customer reads them: "Post link: https://…, Your comments: …". A
    key without a known label (an order frozen before labels were kept) is spelled out in words,
    never shown as its internal name."""
    labels = labels or {}

    def label(key: str) -> str:
        return labels.get(key) or key.replace("_", " ").strip().capitalize()

    return ", ".join(f"{label(k)}: {' / '.join(str(v).splitlines())}" for k, v in fields.items() if str(v).strip())


def plan_prices(detail: ProductDetail, quote_: Quote) -> dict[str, int]:
    """Plan key -> the price of one package with this quote's other choices on that plan
    (package, options, add-ons, the same experiment variant): what a plan card shows, so it
    agrees with the total whichever package is chosen."""
    return {
        plan.key: quote_.unit_price_minor  # the chosen plan is the quote itself: not priced twice
        if plan.key == quote_.configuration.plan
        else price(detail, replace(quote_.configuration, plan=plan.key), variant=quote_.experiment).unit_price_minor
        for plan in detail.plans
    }
