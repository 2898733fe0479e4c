"""Editing a configuration on the product page, and whose saved configurations are whose.

The configurator state holds the customer's choices as a plain dict (`Configuration.as_dict()`
shape) and asks these functions for the next one: each change is checked against the
product (a choice it does not offer is refused with a `ConfiguratorError`, nothing changes),
and presets are merged here, so no page decides what a toggle or a preset means. Prices and
the full validation stay in `services.pricing`.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from smplat.models.merchandising import SavedConfiguration
from smplat.services import pricing
from smplat.services.catalog import ProductDetail
from smplat.services.errors import ErrorCode, ServiceError


class ConfiguratorError(ServiceError):
    """A change the product does not allow (an option, add-on, plan, field or preset it does
    not offer), or a saved configuration that is not the visitor's."""

    default_code = ErrorCode.NOT_FOUND


def _with(config: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**config, **changes}


def choose_option(detail: ProductDetail, config: dict[str, Any], group_key: str, option_key: str) -> dict[str, Any]:
    """Pick an option: a single-choice group takes it instead of its current one, a
    multiple-choice group toggles it. Any hand change leaves the preset."""
    group = next(
        (g for g, options in detail.groups if g.key == group_key and any(o.key == option_key for o in options)), None
    )
    if group is None:
        raise ConfiguratorError("That option does not exist.", field="options")
    options = dict(config.get("options") or {})
    current = list(options.get(group_key) or [])
    if group.selection == "multi":
        current = [k for k in current if k != option_key] if option_key in current else current + [option_key]
    else:
        current = [option_key]
    options[group_key] = current
    return _with(config, options=options, preset=None)


def toggle_add_on(detail: ProductDetail, config: dict[str, Any], key: str) -> dict[str, Any]:
    if not any(a.key == key for a in detail.add_ons):
        raise ConfiguratorError("That add-on does not exist.", field="add_ons")
    add_ons = list(config.get("add_ons") or [])
    add_ons = [a for a in add_ons if a != key] if key in add_ons else add_ons + [key]
    return _with(config, add_ons=add_ons, preset=None)


def choose_plan(detail: ProductDetail, config: dict[str, Any], key: str) -> dict[str, Any]:
    if not any(p.key == key for p in detail.plans):
        raise ConfiguratorError("That plan does not exist.", field="plan")
    return _with(config, plan=key, preset=None)


def set_field(detail: ProductDetail, config: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    """Keep a typed value as typed; whether it is valid is `pricing.validate`'s to say (the
    page shows its message beside the field). Typing does not leave the preset."""
    if not any(f.key == key for f in detail.fields):
        raise ConfiguratorError("That detail is not asked for this service.", field="fields")
    return _with(config, fields={**(config.get("fields") or {}), key: str(value)})


def apply_preset(detail: ProductDetail, config: dict[str, Any], preset_key: str) -> dict[str, Any]:
    """The preset's choices replace the current ones; typed values the customer already
    entered are kept unless the preset sets that field itself."""
    if not any(p.key == preset_key for p in detail.presets):
        raise ConfiguratorError("That preset is not offered for this service.", field="preset")
    try:
        preset = pricing.from_preset(detail, preset_key)
    except pricing.ConfigurationInvalid:
        raise ConfiguratorError(
            "This preset no longer fits the service; choose your options below.", code=ErrorCode.INVALID, field="preset"
        ) from None
    return {**preset.as_dict(), "fields": {**(config.get("fields") or {}), **preset.fields}}


def clear_preset(config: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """Leave the preset, keeping its choices; returns the new configuration and the preset
    that was cleared (None: there was none, nothing to record)."""
    cleared = config.get("preset") or None
    return (_with(config, preset=None) if cleared else config), cleared


# --- saved configurations: the owner's only -----------------------------------------------


def _owned_saved(session: Session, *, user_id: int | None, saved_id: Any) -> SavedConfiguration:
    if not user_id:
        raise ConfiguratorError("Sign in to use saved configurations.", code=ErrorCode.UNAUTHENTICATED)
    if isinstance(saved_id, str) and saved_id.isdigit():
        saved_id = int(saved_id)
    row = (
        session.get(SavedConfiguration, saved_id)
        if isinstance(saved_id, int) and not isinstance(saved_id, bool)
        else None
    )
    if row is None or row.user_id != user_id:
        # someone else's and missing look the same: never say which
        raise ConfiguratorError("That saved configuration is not yours.", field="saved")
    return row


def load_saved(session: Session, *, user_id: int | None, saved_id: Any, product_id: int) -> SavedConfiguration:
    """The signed-in owner's saved configuration of this product; anyone else's, another
    product's or a missing one is refused alike (NOT_FOUND)."""
    row = _owned_saved(session, user_id=user_id, saved_id=saved_id)
    if row.product_id != product_id:
        raise ConfiguratorError("That saved configuration is not yours.", field="saved")
    return row


def delete_saved(session: Session, *, user_id: int | None, saved_id: Any) -> None:
    """Delete one of the signed-in owner's saved configurations; anyone else's is refused
    (NOT_FOUND) and stays."""
    session.delete(_owned_saved(session, user_id=user_id, saved_id=saved_id))
    session.flush()
