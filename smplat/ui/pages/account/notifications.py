"""My account → Notifications: which emails the customer gets, one switch per kind and channel.

The rules live in `services.notifications` (which kinds always go, and why); the page shows
them and calls `set_preference` for every switch.
"""

from __future__ import annotations

import reflex as rx

from smplat.db import session_scope
from smplat.services import notifications
from smplat.services.errors import ServiceError
from smplat.ui import routes
from smplat.ui.components.common import card, form_alert, page_title
from smplat.ui.components.layout import account_page
from smplat.ui.components.skeletons import skeleton_block
from smplat.ui.registry import NavEntry, page
from smplat.ui.state.auth import AuthState, signed_in_only

CHANNELS = [("email", "Email"), ("webhook", "Webhook"), ("telegram", "Telegram")]


class NotificationPrefsState(AuthState):
    """The rows of the preferences table, as plain strings ("on"/"off", "yes"/"")."""

    loaded: bool = False
    rows: list[dict[str, str]] = []
    error: str = ""
    notice: str = ""

    def _refresh(self) -> None:
        with session_scope() as db:
            prefs = notifications.preferences(db, self.user_id)
        rows = []
        for pref in prefs:
            row = {
                "kind": pref["kind"],
                "label": pref["label"],
                "description": pref["description"],
                "reason": pref["always_reason"],
            }
            for channel in pref["channels"]:
                name = channel["channel"]
                row[f"{name}_on"] = "on" if channel["enabled"] else "off"
                row[f"{name}_locked"] = "yes" if channel["locked"] else ""
            rows.append(row)
        self.rows = rows
        self.loaded = True

    @rx.event
    @signed_in_only
    def load_preferences(self) -> None:
        self.error = self.notice = ""
        self._refresh()

    @rx.event
    @signed_in_only
    def toggle(self, kind: str, channel: str, enabled: bool) -> None:
        self.error = self.notice = ""
        try:
            with session_scope() as db:
                notifications.set_preference(db, self.user_id, str(kind), str(channel), bool(enabled))
        except ServiceError as error:
            self.error = error.message
            self._refresh()
            return
        label = notifications.KINDS[str(kind)].label
        self.notice = f"{label}: {'on' if enabled else 'off'} by {channel}."
        self._refresh()


def _switch(row: rx.Var, channel: str) -> rx.Component:
    switch = rx.switch(
        checked=row[f"{channel}_on"] == "on",
        disabled=row[f"{channel}_locked"] == "yes",
        on_change=lambda checked: NotificationPrefsState.toggle(row["kind"], channel, checked),
        id=f"pref-{channel}-" + row["kind"].to(str),
        aria_label=f"{channel} " + row["label"].to(str),
    )
    if channel == "email":
        return rx.cond(row["reason"] != "", rx.tooltip(rx.box(switch), content=row["reason"].to(str)), switch)
    return rx.tooltip(rx.box(switch), content="Coming soon")


def _row(row: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.vstack(
                rx.text(row["label"], weight="medium", size="2"),
                rx.text(row["description"], size="1", color_scheme="gray"),
                rx.cond(
                    row["reason"] != "",
                    rx.hstack(
                        rx.icon("lock", size=12),
                        rx.text(row["reason"], size="1"),
                        spacing="1",
                        align="center",
                        color=rx.color("gray", 10),
                    ),
                ),
                spacing="1",
                align="start",
            )
        ),
        *[rx.table.cell(_switch(row, channel), text_align="center") for channel, _ in CHANNELS],
        id="pref-row-" + row["kind"].to(str),
    )


def _table() -> rx.Component:
    return card(
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    rx.table.column_header_cell("Message"),
                    *[
                        rx.table.column_header_cell(
                            rx.vstack(
                                rx.text(label),
                                *(
                                    []
                                    if channel == "email"
                                    else [rx.badge("soon", color_scheme="gray", variant="soft", size="1")]
                                ),
                                spacing="1",
                                align="center",
                            ),
                            text_align="center",
                            width="110px",
                        )
                        for channel, label in CHANNELS
                    ],
                )
            ),
            rx.table.body(rx.foreach(NotificationPrefsState.rows, _row)),
            width="100%",
            id="notification-preferences",
        ),
        style={"padding": "0.5rem 0.75rem"},
        width="100%",
    )


def _skeleton() -> rx.Component:
    return card(
        rx.vstack(*[skeleton_block("44px") for _ in range(8)], spacing="3", width="100%"),
        id="notification-preferences-loading",
    )


@page(
    route=routes.ACCOUNT_NOTIFICATIONS,
    title="Notifications",
    guard="signed_in",
    on_load=NotificationPrefsState.load_preferences,
    nav=NavEntry(label="Notifications", icon="bell", order=35),
)
def account_notifications_page() -> rx.Component:
    return account_page(
        page_title("Notifications", "Choose which emails you get from us. Changes are saved at once."),
        rx.vstack(
            form_alert(NotificationPrefsState.error),
            form_alert(NotificationPrefsState.notice, color="green", icon="circle-check", alert_id="prefs-notice"),
            rx.cond(NotificationPrefsState.loaded, _table(), _skeleton()),
            rx.text(
                "Receipts, invoices, payment problems and security messages always go: they are about your "
                "money or your account. The weekly digest also has a one-click unsubscribe link.",
                size="2",
                color_scheme="gray",
            ),
            spacing="4",
            width="100%",
        ),
    )
