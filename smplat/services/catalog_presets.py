"""The preset builder and the calculator builder of the product editor.

A preset is a one-click configuration (label, badge, image, options, add-ons, plan, field
values, featured). Saving one prices its selection with the one pricing service
(`pricing.price_for`): a choice the product does not offer, a missing required group or a
field value its field refuses is refused with pricing's own messages, so a saved preset is
always a configuration the storefront accepts. Field values the customer types later (their
account, a link) may stay empty. `price_hint_minor` is the price pricing computed.

The calculator ("about 334 followers a day") lives in ONE place, the package option's
`blueprint["calculator"]` = {"expression": ..., "sample_inputs": {name: number}} read by
`pricing.calculator_text`; the builder writes only that key, keeping the rest of the
blueprint. An expression is refused with the safe evaluator's own message
(`services.expressions`).

Every save: EDIT_CATALOG (`audit.require`), `claim_version`, the write, `audit.record`.
"""

from __future__ import annotations

import re
from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from smplat.models.catalog import ProductOption, ProductOptionGroup, ProductPreset
from smplat.services import audit, pricing
from smplat.services.audit import Actor
from smplat.services.catalog import GRADUAL_SPEED, ProductDetail, get_product_detail
from smplat.services.catalog_drafts import claim_version
from smplat.services.catalog_drafts import get_product as _product
from smplat.services.errors import ErrorCode, ServiceError
from smplat.services.expressions import ExpressionError, evaluate
from smplat.services.money import format_money
from smplat.services.permissions import Permission

KEY_RE = re.compile(r"^[a-z][a-z0-9_-]{0,59}$")
NAME_RE = re.compile(r"^[a-z_][a-z0-9_]{0,29}$")
MAX_INPUTS = 6


class PresetInvalid(ServiceError):
    default_code = ErrorCode.INVALID


def editor_detail(session: Session, product_id: int) -> ProductDetail:
    """The product row in the URL as the storefront will read it once published: every
    table of the row (draft or not), gradual delivery only when a route can drip-feed."""
    product = _product(session, product_id)
    detail = get_product_detail(session, product.slug, include_inactive=True)
    if detail is None:  # pragma: no cover - the row exists, its category is required
        raise ServiceError("This product no longer exists.", code=ErrorCode.NOT_FOUND)
    if not detail.dripfeed_available:
        groups = [
            (g, [o for o in opts if not (g.key == GRADUAL_SPEED[0] and o.key == GRADUAL_SPEED[1])])
            for g, opts in detail.groups
        ]
        detail = replace(detail, groups=groups)
    return detail


def snapshot(preset: ProductPreset) -> dict[str, Any]:
    return {
        "key": preset.key,
        "label": preset.label,
        "description": preset.description,
        "badge": preset.badge,
        "image_url": preset.image_url,
        "selection": dict(preset.selection or {}),
        "price_hint_minor": preset.price_hint_minor,
        "is_featured": bool(preset.is_featured),
        "sort_order": preset.sort_order,
    }


def list_presets(session: Session, product_id: int) -> list[ProductPreset]:
    return list(
        session.execute(
            select(ProductPreset)
            .where(ProductPreset.product_id == int(product_id))
            .order_by(ProductPreset.sort_order, ProductPreset.id)
        )
        .scalars()
        .all()
    )


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value or "").strip().lower() in ("1", "true", "on", "yes")


def _selection(raw: Any) -> dict[str, Any]:
    """The stored selection shape, empty parts left out."""
    raw = dict(raw or {})
    out: dict[str, Any] = {"options": {k: v for k, v in (raw.get("options") or {}).items() if v}}
    add_ons = [a for a in (raw.get("add_ons") or []) if a]
    if add_ons:
        out["add_ons"] = add_ons
    if raw.get("plan"):
        out["plan"] = raw["plan"]
    fields = {k: str(v).strip() for k, v in (raw.get("fields") or {}).items() if str(v or "").strip()}
    if fields:
        out["fields"] = fields
    return out


def check_selection(session: Session, detail: ProductDetail, selection: dict[str, Any]) -> pricing.Quote:
    """Price a preset's selection with the pricing service; raise its errors if it is not a
    valid configuration. Values the customer types later may be missing; a value the preset
    does give must pass its field."""
    given = set((selection.get("fields") or {}).keys())
    try:
        quote = pricing.price_for(session, detail, selection, channel="storefront", fields=pricing.FIELDS_COLLECT)
    except pricing.ConfigurationInvalid as exc:
        # what the customer types later (their account, a link) is not the preset's to give
        errors = {
            k: v for k, v in exc.errors.items() if not k.startswith("fields.") or k.removeprefix("fields.") in given
        }
        raise PresetInvalid(
            "This selection is not a valid configuration: " + " ".join(errors.values()),
            field="selection",
            errors=errors,
        ) from None
    wrong = {k: v for k, v in quote.field_errors.items() if k.removeprefix("fields.") in given}
    if wrong:
        raise PresetInvalid(
            "A field value of this preset is refused: " + "; ".join(wrong.values()), field="selection", errors=wrong
        )
    return quote


def save_preset(
    session: Session,
    actor: Actor,
    product_id: int,
    expected_version: int,
    data: dict[str, Any],
    *,
    preset_id: int | None = None,
) -> tuple[ProductPreset, int]:
    """Add (preset_id None) or edit a preset; returns (row, the product's new version)."""
    action = "catalog.preset.update" if preset_id else "catalog.preset.create"
    audit.require(actor, Permission.EDIT_CATALOG, action, "product", product_id)
    product = _product(session, product_id)
    existing = None
    if preset_id is not None:
        existing = session.get(ProductPreset, int(preset_id))
        if existing is None or existing.product_id != product.id:
            raise ServiceError("This preset no longer exists; reload the page.", code=ErrorCode.NOT_FOUND)
    errors: dict[str, str] = {}
    key = str(data.get("key") or "").strip().lower()
    if not KEY_RE.match(key):
        errors["key"] = "Use 1-60 lower-case letters, digits, - and _ , starting with a letter."
    else:
        taken = session.execute(
            select(ProductPreset.id).where(ProductPreset.product_id == product.id, ProductPreset.key == key)
        ).scalar_one_or_none()
        if taken is not None and taken != preset_id:
            errors["key"] = f"This product already has a preset {key!r}."
    label = str(data.get("label") or "").strip()
    if not label or len(label) > 200:
        errors["label"] = "Give the preset a label of at most 200 characters."
    description = str(data.get("description") or "").strip()
    if len(description) > 500:
        errors["description"] = "At most 500 characters."
    badge = str(data.get("badge") or "").strip()
    if len(badge) > 40:
        errors["badge"] = "A badge is at most 40 characters (e.g. Most chosen)."
    image_url = str(data.get("image_url") or "").strip()
    if image_url and not (re.match(r"^https?://\S+$", image_url) or re.match(r"^/[\w./-]+$", image_url)):
        errors["image_url"] = "Use an https:// link or a path on this site such as /media/x.png."
    elif len(image_url) > 1000:
        errors["image_url"] = "At most 1000 characters."
    if errors:
        first = next(iter(errors))
        raise PresetInvalid(errors[first], field=first, errors=errors)
    selection = _selection(data.get("selection"))
    quote = check_selection(session, editor_detail(session, product.id), selection)

    version = claim_version(session, product.id, expected_version)
    before = snapshot(existing) if existing is not None else None
    row = existing or ProductPreset(product_id=product.id, key=key, label=label)
    if existing is None:
        others = list_presets(session, product.id)
        row.sort_order = max((p.sort_order for p in others), default=-1) + 1
        session.add(row)
    row.key, row.label, row.description, row.badge, row.image_url = key, label, description, badge, image_url
    row.selection = selection
    row.price_hint_minor = quote.unit_price_minor
    row.is_featured = _flag(data.get("is_featured"))
    session.flush()
    audit.record(
        session, actor, action, "product", product.id, before=before, after=snapshot(row), data={"preset": key}
    )
    return row, version


def delete_preset(session: Session, actor: Actor, product_id: int, expected_version: int, preset_id: int) -> int:
    audit.require(actor, Permission.EDIT_CATALOG, "catalog.preset.delete", "product", product_id)
    product = _product(session, product_id)
    row = session.get(ProductPreset, int(preset_id))
    if row is None or row.product_id != product.id:
        raise ServiceError("This preset no longer exists; reload the page.", code=ErrorCode.NOT_FOUND)
    version = claim_version(session, product.id, expected_version)
    before = snapshot(row)
    session.delete(row)
    session.flush()
    audit.record(
        session, actor, "catalog.preset.delete", "product", product.id, before=before, after=None,
        data={"preset": before["key"]},
    )  # fmt: skip
    return version


# --- calculator -------------------------------------------------------------------------------


def parse_inputs(raw: Any) -> dict[str, Decimal]:
    """Calculator inputs: a mapping or text, one `name = number` per line."""
    if isinstance(raw, dict):
        items = list(raw.items())
    else:
        items = []
        for line in str(raw or "").splitlines():
            if line.strip():
                name, _, value = line.partition("=")
                items.append((name.strip(), value.strip()))
    out: dict[str, Decimal] = {}
    for name, value in items:
        if not NAME_RE.match(str(name)):
            raise PresetInvalid(f"Input {name!r}: names are letters, digits and _ (e.g. amount).", field="inputs")
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise PresetInvalid(f"Input {name}: {value!r} is not a number.", field="inputs") from None
        if not number.is_finite():
            raise PresetInvalid(f"Input {name}: {value!r} is not a number.", field="inputs")
        out[str(name)] = number
    if len(out) > MAX_INPUTS:
        raise PresetInvalid(f"At most {MAX_INPUTS} inputs.", field="inputs")
    return out


def inputs_text(inputs: dict[str, Any]) -> str:
    return "\n".join(f"{k} = {v}" for k, v in (inputs or {}).items())


def sample_output(expression: str, inputs: Any, unit_label: str = "units") -> str:
    """What the calculator shows for these inputs, e.g. "about 334 followers a day over 3
    day(s)"; raises PresetInvalid with the evaluator's message when it cannot compute."""
    values = parse_inputs(inputs)
    try:
        result = evaluate(expression, values)
    except ExpressionError as exc:
        raise PresetInvalid(f"The expression is refused: {exc}", field="expression") from None
    unit = unit_label.replace(" / month", "")
    days = values.get("days", Decimal(1))
    return f"about {int(result.to_integral_value(rounding=ROUND_HALF_UP)):,} {unit} a day over {days:f} day(s)"


def _option(session: Session, product_id: int, option_id: int) -> ProductOption:
    row = session.execute(
        select(ProductOption)
        .join(ProductOptionGroup, ProductOptionGroup.id == ProductOption.group_id)
        .where(ProductOption.id == int(option_id), ProductOptionGroup.product_id == int(product_id))
    ).scalar_one_or_none()
    if row is None:
        raise ServiceError("This option no longer exists; reload the page.", code=ErrorCode.NOT_FOUND)
    return row


def save_calculator(
    session: Session, actor: Actor, product_id: int, expected_version: int, data: dict[str, Any]
) -> tuple[ProductOption, int]:
    """Set (or, with an empty expression, remove) the calculator of one package option.
    data: option_id, expression, inputs (mapping or `name = number` lines)."""
    audit.require(actor, Permission.EDIT_CATALOG, "catalog.calculator.update", "product", product_id)
    product = _product(session, product_id)
    option = _option(session, product.id, data.get("option_id") or 0)
    expression = str(data.get("expression") or "").strip()
    blueprint = dict(option.blueprint or {})
    before = dict(blueprint.get("calculator") or {})
    if expression:
        inputs = parse_inputs(data.get("inputs"))
        sample_output(expression, inputs, product.unit_label)  # refuses what cannot compute
        calculator = {
            "expression": expression,
            "sample_inputs": {k: (int(v) if v == v.to_integral_value() else str(v)) for k, v in inputs.items()},
        }
        blueprint["calculator"] = calculator
    else:
        blueprint.pop("calculator", None)
    version = claim_version(session, product.id, expected_version)
    option.blueprint = blueprint
    session.add(option)
    session.flush()
    audit.record(
        session, actor, "catalog.calculator.update", "product", product.id,
        before=before or None, after=blueprint.get("calculator"), data={"option": option.key},
    )  # fmt: skip
    return option, version


def price_hint(preset: ProductPreset, currency: str) -> str:
    return format_money(preset.price_hint_minor, currency) if preset.price_hint_minor is not None else "—"
