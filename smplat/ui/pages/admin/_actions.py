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
        style={
            "height": "24px",
            "font_size": "12px",
            "border": "1px solid var(--gray-a7)",
            "border_radius": "6px",
            "padding": "0 6px",
            "background": "var(--color-panel-solid)",
        },
    )
