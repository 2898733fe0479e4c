"""Pieces shared by the staff action forms (dead letters, order detail, providers, content …):
who acts (for the order timeline and the audit log), and the named action select."""

from __future__ import annotations

import reflex as rx

from smplat.services.audit import Actor
from smplat.ui.state.auth import AuthState, client_ip


def operator_actor(state: AuthState) -> Actor:
    """The signed-in staff member behind this event, with their role and IP (the guard has
    already checked the permission; services check again where the rule lives)."""
    user = state._current_user()
    return Actor.staff(user.id, user.email, user.role, client_ip(state))


# a native select the height and type size of Radix's size-1 inputs beside it
COMPACT_SELECT = {
    "height": "24px",
    "font_size": "12px",
    "border": "1px solid var(--gray-a7)",
    "border_radius": "6px",
    "padding": "0 6px",
    "background": "var(--color-panel-solid)",
}


def action_select(
    choices: list[tuple[str, str]], select_id: rx.Var | str, default: rx.Var | str | None = None
) -> rx.Component:
    """A named native select: form data carries the chosen action (a clicked submit
    button's own name/value is not part of Reflex's form data); `default` preselects one."""
    extra = {} if default is None else {"default_value": default}
    return rx.el.select(
        *[rx.el.option(label, value=value) for value, label in choices],
        name="action",
        id=select_id,
        **extra,
        style=COMPACT_SELECT,
    )


def reason_input(
    input_id: rx.Var | str, *, width: str = "16rem", placeholder: str = "Reason (required)", required: bool = False
) -> rx.Component:
    """The reason an operator gives for an action (it goes on the timeline and in the audit log);
    the service refuses a blank one with a clear error, `required` also stops the browser first."""
    return rx.input(name="reason", placeholder=placeholder, size="1", width=width, required=required, id=input_id)


def editor_draft_redirect(state: AuthState, tab: str):
    """An editor tab opened with a published (or archived) product's id opens (or reuses) its
    draft and moves there, so no tab ever edits what the storefront shows; None when the URL
    already names a draft (or nothing). Every editor tab's loader calls it first."""
    from smplat.db import session_scope
    from smplat.models.catalog import Product, ProductStatus
    from smplat.services import catalog_editor
    from smplat.ui import routes

    raw = str(state.router.page.params.get("product_id", ""))
    if not raw.isdigit():
        return None
    with session_scope() as db:
        product = db.get(Product, int(raw))
        if product is None or product.status == ProductStatus.DRAFT.value:
            return None
        draft_id = int(catalog_editor.open_draft(db, operator_actor(state), product.id).id)
    return rx.redirect(routes.admin_product_editor(draft_id, tab))
