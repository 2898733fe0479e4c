"""Pieces shared by the operator action forms (dead letters, order detail): who acts, and the
named action select."""

from __future__ import annotations

import reflex as rx

from smplat.services.order_status import Actor
from smplat.ui.state.auth import AuthState


def operator_actor(state: AuthState) -> Actor:
    user = state._current_user()
    return Actor.operator(user.id, user.email)


def action_select(choices: list[tuple[str, str]], select_id: rx.Var) -> rx.Component:
    """A named native select: form data carries the chosen action (a clicked submit
    button's own name/value is not part of Reflex's form data)."""
    return rx.el.select(
        *[rx.el.option(label, value=value) for value, label in choices],
        name="action",
        id=select_id,
        style={
            "height": "24px",
            "font_size": "12px",
            "border": "1px solid var(--gray-a7)",
            "border_radius": "6px",
            "padding": "0 6px",
            "background": "var(--color-panel-solid)",
        },
    )
