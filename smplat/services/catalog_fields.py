"""The custom-field builder: what a customer types in, and the rules the shop holds them to.

Every save takes (session, actor, product_id, expected_version, data): the actor needs
EDIT_CATALOG (`audit.require`), `catalog_drafts.claim_version` refuses a stale editor, the
row is written and `audit.record` keeps before/after, all in the caller's transaction. A
save is checked before anything is written (one `ServiceError(INVALID)` whose `errors` maps
each form field to its problem): the key, the type, min <= max (number and integer fields
only), the regex compiles, choices (choice fields only) are distinct, the default and every
sample value pass the field's own rules, and every visibility rule names an option, add-on,
plan or channel the product has.

The field's own rules are NOT written here: `pricing.check_value` (the one validator the
configurator, cart and checkout use) judges defaults, samples and the builder's live regex
tester, so what the builder shows is exactly what the storefront will enforce.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from smplat.models.catalog import (
    CustomFieldType,
    Product,
    ProductAddOn,
    ProductCustomField,
    ProductOption,
    ProductOptionGroup,
    ProductPlan,
)
from smplat.services import audit, pricing
from smplat.services.audit import Actor
from smplat.services.catalog_drafts import claim_version
from smplat.services.catalog_drafts import get_product as _product
from smplat.services.errors import ErrorCode, ServiceError
from smplat.services.permissions import Permission

KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,59}$")
MAX_CHOICES = 50
MAX_SAMPLES = 5
NUMERIC_TYPES = (CustomFieldType.NUMBER.value, CustomFieldType.INTEGER.value)
TYPE_LABELS: dict[str, str] = {
    CustomFieldType.TEXT.value: "Text",
    CustomFieldType.TEXTAREA.value: "Long text",
    CustomFieldType.NUMBER.value: "Number",
    CustomFieldType.INTEGER.value: "Whole number",
    CustomFieldType.URL.value: "Link (URL)",
    CustomFieldType.HANDLE.value: "Account handle",
    CustomFieldType.CHOICE.value: "Choice",
    CustomFieldType.EMAIL.value: "Email",
}
CONDITION_KINDS = ("option", "add_on", "plan", "channel")


class FieldInvalid(ServiceError):
    """The builder's form breaks a rule; `errors` maps each form field to its problem."""

    default_code = ErrorCode.INVALID


# --- reading -------------------------------------------------------------------------------


def list_fields(session: Session, product_id: int) -> list[ProductCustomField]:
    return list(
        session.execute(
            select(ProductCustomField)
            .where(ProductCustomField.product_id == int(product_id))
            .order_by(ProductCustomField.sort_order, ProductCustomField.id)
        )
        .scalars()
        .all()
    )


def snapshot(spec: ProductCustomField) -> dict[str, Any]:
    """What the audit log keeps of a field (and what the builder form is filled from)."""
    return {
        "key": spec.key,
        "label": spec.label,
        "field_type": spec.field_type,
        "required": bool(spec.required),
        "placeholder": spec.placeholder,
        "help_text": spec.help_text,
        "default_value": spec.default_value,
        "min_value": None if spec.min_value is None else f"{Decimal(spec.min_value).normalize():f}",
        "max_value": None if spec.max_value is None else f"{Decimal(spec.max_value).normalize():f}",
        "regex_pattern": spec.regex_pattern,
        "regex_message": spec.regex_message,
        "choices": list(spec.choices or []),
        "sample_values": list(spec.sample_values or []),
        "visibility_rules": dict(spec.visibility_rules or {}),
        "sort_order": spec.sort_order,
    }


def references(session: Session, product_id: int) -> dict[str, list[str]]:
    """What a visibility rule may name on this product: option refs ("group:option"),
    add-on keys, plan keys and channels (three queries)."""
    pid = int(product_id)
    options = session.execute(
        select(ProductOptionGroup.key, ProductOption.key)
        .join(ProductOption, ProductOption.group_id == ProductOptionGroup.id)
        .where(ProductOptionGroup.product_id == pid)
        .order_by(ProductOptionGroup.sort_order, ProductOption.sort_order, ProductOption.id)
    ).all()
    add_ons = session.execute(
        select(ProductAddOn.key).where(ProductAddOn.product_id == pid).order_by(ProductAddOn.sort_order)
    ).scalars()
    plans = session.execute(
        select(ProductPlan.key).where(ProductPlan.product_id == pid).order_by(ProductPlan.sort_order)
    ).scalars()
    return {
        "option": [f"{g}:{o}" for g, o in options],
        "add_on": list(add_ons),
        "plan": list(plans),
        "channel": list(pricing.CHANNELS),
    }


# --- parsing the builder's form ---------------------------------------------------------------


def _text(data: dict[str, Any], key: str, limit: int) -> str:
    value = data.get(key)
    return "" if value is None else str(value).strip()[: limit + 1]


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value or "").strip().lower() in ("1", "true", "on", "yes")


def _decimal(value: Any, where: str, errors: dict[str, str]) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        errors[where] = "Must be a number, e.g. 10 or 2.5."
        return None
    if not number.is_finite() or abs(number) >= Decimal(10) ** 14:
        errors[where] = "Must be a number, e.g. 10 or 2.5."
        return None
    return number


def parse_choices(raw: Any) -> list[dict[str, str]]:
    """Choices from the builder: a list of {"value", "label"} or text, one per line as
    `value | label` (the label defaults to the value)."""
    if isinstance(raw, list):
        out = []
        for item in raw:
            if isinstance(item, dict):
                out.append({"value": str(item.get("value", "")).strip(), "label": str(item.get("label", "")).strip()})
            else:
                out.append({"value": str(item).strip(), "label": ""})
    else:
        out = []
        for line in str(raw or "").splitlines():
            if not line.strip():
                continue
            value, _, label = line.partition("|")
            out.append({"value": value.strip(), "label": label.strip()})
    return [{"value": c["value"], "label": c["label"] or c["value"]} for c in out]


def choices_text(choices: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"{c.get('value', '')} | {c.get('label', '')}" if c.get("label") != c.get("value") else str(c.get("value", ""))
        for c in choices or []
    )


def parse_samples(raw: Any) -> list[str]:
    if isinstance(raw, list):
        return [str(v).strip() for v in raw if str(v).strip()]
    return [line.strip() for line in str(raw or "").splitlines() if line.strip()]


def parse_conditions(text: str) -> list[dict[str, Any]]:
    """Visibility conditions typed one per line: `option: group:key`, `add_on: key`,
    `plan: key`, `channel: storefront, api`. An unknown kind is kept as written, so the
    check below names it."""
    conditions: list[dict[str, Any]] = []
    for line in str(text or "").splitlines():
        if not line.strip():
            continue
        kind, _, value = line.partition(":")
        kind = kind.strip().lower().replace("-", "_").replace(" ", "_")
        value = value.strip()
        if kind == "channel":
            conditions.append({"channel": [c.strip() for c in value.split(",") if c.strip()]})
        else:
            conditions.append({kind: value})
    return conditions


def conditions_text(rules: dict[str, Any] | None) -> str:
    lines = []
    for condition in (rules or {}).get("conditions") or []:
        ((kind, value),) = condition.items()
        lines.append(f"{kind}: {', '.join(value) if isinstance(value, list) else value}")
    return "\n".join(lines)


def _visibility(data: dict[str, Any]) -> Any:
    if "visibility_rules" in data:
        return data["visibility_rules"]
    conditions = parse_conditions(data.get("visibility_text", ""))
    if not conditions:
        return {}
    return {"match": str(data.get("visibility_match") or "all"), "conditions": conditions}


def check_visibility(rules: Any, refs: dict[str, list[str]]) -> str | None:
    """The problem with a visibility rule (shape or a reference the product lacks), or None."""
    if rules in (None, {}):
        return None
    if not isinstance(rules, dict) or set(rules) - {"match", "conditions"}:
        return 'Rules are {"match": "all" | "any", "conditions": [...]}.'
    if rules.get("match", "all") not in ("all", "any"):
        return 'Match must be "all" or "any".'
    conditions = rules.get("conditions") or []
    if not isinstance(conditions, list):
        return "Conditions must be a list."
    for condition in conditions:
        if not isinstance(condition, dict) or len(condition) != 1:
            return "Each condition names one thing: an option, an add-on, a plan or channels."
        ((kind, value),) = condition.items()
        if kind not in CONDITION_KINDS:
            return f"Unknown condition {kind!r}: use option, add_on, plan or channel."
        if kind == "channel":
            values = value if isinstance(value, list) else [value]
            unknown = [v for v in values if v not in refs["channel"]]
            if not values or unknown:
                return f"Channels are {', '.join(refs['channel'])} (not {', '.join(map(str, unknown)) or 'empty'})."
            continue
        if value not in refs[kind]:
            known = ", ".join(refs[kind]) or "none yet"
            what = {"option": "option (group:option)", "add_on": "add-on", "plan": "plan"}[kind]
            return f"This product has no {what} {value!r}. Known: {known}."
    return None


def build_field(
    session: Session, product: Product, data: dict[str, Any], *, field_id: int | None = None
) -> ProductCustomField:
    """A transient field from the builder's form, every rule checked; raises FieldInvalid
    listing every problem. Nothing is written."""
    errors: dict[str, str] = {}
    key = _text(data, "key", 60).lower()
    if not KEY_RE.match(key):
        errors["key"] = "Use 1-60 lower-case letters, digits and _ , starting with a letter (e.g. post_link)."
    else:
        taken = session.execute(
            select(ProductCustomField.id).where(
                ProductCustomField.product_id == product.id, ProductCustomField.key == key
            )
        ).scalar_one_or_none()
        if taken is not None and taken != field_id:
            errors["key"] = f"This product already has a field {key!r}."
    label = _text(data, "label", 200)
    if not label:
        errors["label"] = "Give the field a label customers will read."
    elif len(label) > 200:
        errors["label"] = "At most 200 characters."
    field_type = _text(data, "field_type", 20) or CustomFieldType.TEXT.value
    if field_type not in TYPE_LABELS:
        errors["field_type"] = f"Choose a type: {', '.join(TYPE_LABELS)}."
    limits = {"placeholder": 200, "help_text": 500, "regex_message": 300, "regex_pattern": 500, "default_value": 500}
    texts = {name: _text(data, name, limit) for name, limit in limits.items()}
    for name, limit in limits.items():
        if len(texts[name]) > limit:
            errors[name] = f"At most {limit} characters."

    min_value = _decimal(data.get("min_value"), "min_value", errors)
    max_value = _decimal(data.get("max_value"), "max_value", errors)
    if (min_value is not None or max_value is not None) and field_type not in NUMERIC_TYPES:
        errors.setdefault("min_value", "Minimum and maximum apply to number and whole-number fields only.")
    if field_type == CustomFieldType.INTEGER.value:
        for name, number in (("min_value", min_value), ("max_value", max_value)):
            if number is not None and number != number.to_integral_value():
                errors.setdefault(name, "A whole-number field needs whole-number limits.")
    if min_value is not None and max_value is not None and min_value > max_value:
        errors["max_value"] = f"The maximum ({max_value:f}) is below the minimum ({min_value:f})."

    if texts["regex_pattern"]:
        try:
            re.compile(texts["regex_pattern"])
        except re.error as exc:
            errors["regex_pattern"] = f"This pattern does not compile: {exc}."

    choices = parse_choices(data.get("choices", []))
    if field_type == CustomFieldType.CHOICE.value:
        values = [c["value"] for c in choices]
        if not choices:
            errors["choices"] = "A choice field needs at least one choice (one per line: value | label)."
        elif len(choices) > MAX_CHOICES:
            errors["choices"] = f"At most {MAX_CHOICES} choices."
        elif any(not v or len(v) > 100 for v in values):
            errors["choices"] = "Every choice needs a value of 1-100 characters."
        elif len(set(values)) != len(values):
            errors["choices"] = "Two choices have the same value."
        elif any(len(c["label"]) > 200 for c in choices):
            errors["choices"] = "Choice labels are at most 200 characters."
    elif choices:
        errors["choices"] = "Only choice fields have choices."

    rules = _visibility(data)
    problem = check_visibility(rules, references(session, product.id))
    if problem:
        errors["visibility_rules"] = problem

    spec = ProductCustomField(
        id=field_id,
        product_id=product.id,
        key=key,
        label=label,
        field_type=field_type,
        required=_flag(data.get("required")),
        placeholder=texts["placeholder"],
        help_text=texts["help_text"],
        default_value=texts["default_value"],
        min_value=min_value,
        max_value=max_value,
        regex_pattern=texts["regex_pattern"],
        regex_message=texts["regex_message"],
        choices=choices if field_type == CustomFieldType.CHOICE.value else [],
        sample_values=[],
        visibility_rules=rules or {},
    )
    if not errors:
        # the field's own rules, judged by the one validator the storefront uses
        if spec.default_value:
            value, problem = pricing.check_value(spec, product.platform, spec.default_value)
            if problem:
                errors["default_value"] = f"The default does not pass this field's rules: {problem}"
            else:
                spec.default_value = value
        samples = parse_samples(data.get("sample_values", []))
        if len(samples) > MAX_SAMPLES:
            errors["sample_values"] = f"At most {MAX_SAMPLES} sample values."
        for sample in samples:
            value, problem = pricing.check_value(spec, product.platform, sample)
            if problem:
                errors["sample_values"] = f"Sample {sample!r} does not pass: {problem}"
                break
        spec.sample_values = samples
    if errors:
        first = next(iter(errors))
        raise FieldInvalid(errors[first], field=first, errors=errors)
    return spec


def try_sample(session: Session, product_id: int, data: dict[str, Any], sample: str) -> tuple[bool, str]:
    """The builder's inline tester: does `sample` pass the field as it stands in the form?
    (pass, message): the storefront's own message when it fails, or the canonical value kept."""
    product = _product(session, product_id)
    spec = ProductCustomField(
        product_id=product.id,
        key=_text(data, "key", 60) or "sample",
        label=_text(data, "label", 200) or "This field",
        field_type=_text(data, "field_type", 20) or CustomFieldType.TEXT.value,
        required=True,
        regex_pattern=_text(data, "regex_pattern", 500),
        regex_message=_text(data, "regex_message", 300),
        choices=parse_choices(data.get("choices", [])),
    )
    errors: dict[str, str] = {}
    spec.min_value = _decimal(data.get("min_value"), "min_value", errors)
    spec.max_value = _decimal(data.get("max_value"), "max_value", errors)
    if spec.regex_pattern:
        try:
            re.compile(spec.regex_pattern)
        except re.error as exc:
            return False, f"The pattern does not compile: {exc}."
    if errors:
        return False, next(iter(errors.values()))
    value, problem = pricing.check_value(spec, product.platform, (sample or "").strip())
    if problem:
        return False, problem
    return True, f"Passes — stored as {value!r}."


# --- writing --------------------------------------------------------------------------------


def _audit_target(product_id: int) -> tuple[str, int]:
    return "product", int(product_id)


def save_field(
    session: Session,
    actor: Actor,
    product_id: int,
    expected_version: int,
    data: dict[str, Any],
    *,
    field_id: int | None = None,
) -> tuple[ProductCustomField, int]:
    """Add a field (field_id None) or edit one; returns (row, the product's new version)."""
    action = "catalog.field.update" if field_id else "catalog.field.create"
    audit.require(actor, Permission.EDIT_CATALOG, action, *_audit_target(product_id))
    product = _product(session, product_id)
    existing = None
    if field_id is not None:
        existing = session.get(ProductCustomField, int(field_id))
        if existing is None or existing.product_id != product.id:
            raise ServiceError("This field no longer exists; reload the page.", code=ErrorCode.NOT_FOUND)
    spec = build_field(session, product, data, field_id=field_id)
    version = claim_version(session, product.id, expected_version)
    before = snapshot(existing) if existing is not None else None
    if existing is None:
        others = list_fields(session, product.id)
        spec.id = None
        spec.sort_order = (max((f.sort_order for f in others), default=-1) + 1) if others else 0
        session.add(spec)
        row = spec
    else:
        for name in (
            "key", "label", "field_type", "required", "placeholder", "help_text", "default_value",
            "min_value", "max_value", "regex_pattern", "regex_message", "choices", "sample_values",
            "visibility_rules",
        ):  # fmt: skip
            setattr(existing, name, getattr(spec, name))
        row = existing
    session.flush()
    audit.record(
        session, actor, action, "product", product.id, before=before, after=snapshot(row), data={"field": row.key}
    )
    return row, version


def delete_field(session: Session, actor: Actor, product_id: int, expected_version: int, field_id: int) -> int:
    """Remove a field; presets that still give it a value are refused first (they would no
    longer be valid). Returns the product's new version."""
    audit.require(actor, Permission.EDIT_CATALOG, "catalog.field.delete", *_audit_target(product_id))
    product = _product(session, product_id)
    row = session.get(ProductCustomField, int(field_id))
    if row is None or row.product_id != product.id:
        raise ServiceError("This field no longer exists; reload the page.", code=ErrorCode.NOT_FOUND)
    from smplat.models.catalog import ProductPreset

    users = [
        p.label
        for p in session.execute(select(ProductPreset).where(ProductPreset.product_id == product.id)).scalars()
        if row.key in ((p.selection or {}).get("fields") or {})
    ]
    if users:
        raise ServiceError(
            f"Presets still fill this field in: {', '.join(users)}. Edit them first.",
            code=ErrorCode.CONFLICT,
            field="presets",
        )
    version = claim_version(session, product.id, expected_version)
    before = snapshot(row)
    session.delete(row)
    session.flush()
    audit.record(
        session,
        actor,
        "catalog.field.delete",
        "product",
        product.id,
        before=before,
        after=None,
        data={"field": before["key"]},
    )
    return version


def move_field(
    session: Session, actor: Actor, product_id: int, expected_version: int, field_id: int, direction: int
) -> int:
    """Move a field one place up (-1) or down (+1); orders are renumbered 0..n-1."""
    audit.require(actor, Permission.EDIT_CATALOG, "catalog.fields.reorder", *_audit_target(product_id))
    product = _product(session, product_id)
    rows = list_fields(session, product.id)
    index = next((i for i, f in enumerate(rows) if f.id == int(field_id)), None)
    if index is None:
        raise ServiceError("This field no longer exists; reload the page.", code=ErrorCode.NOT_FOUND)
    target = index + (1 if direction > 0 else -1)
    if not 0 <= target < len(rows):
        raise ServiceError("This field cannot move further.", code=ErrorCode.INVALID, field="sort_order")
    version = claim_version(session, product.id, expected_version)
    before = [f.key for f in rows]
    rows[index], rows[target] = rows[target], rows[index]
    for position, row in enumerate(rows):
        row.sort_order = position
    session.flush()
    audit.record(
        session, actor, "catalog.fields.reorder", "product", product.id,
        before={"order": before}, after={"order": [f.key for f in rows]},
    )  # fmt: skip
    return version
