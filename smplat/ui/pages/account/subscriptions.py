"""My account → Subscriptions: each subscription with plan, status, next renewal and amount;
stop renewals at the end of the period, or resume them before it ends (through Stripe)."""

from __future__ import annotations

import reflex as rx

from smplat.db import session_scope
from smplat.services.checkout import subscriptions
from smplat.services.errors import ServiceError
from smplat.ui import routes
from smplat.ui.components.common import card, empty_state, form_alert, loading_block, page_title, status_badge
from smplat.ui.components.layout import account_page
from smplat.ui.registry import NavEntry, page
from smplat.ui.state.auth import AuthState, signed_in_only


class SubscriptionsState(AuthState):
    loaded: bool = False
    rows: list[dict[str, str]] = []
    error: str = ""
    notice: str = ""
    busy_id: str = ""

    def _refresh(self) -> None:
        with session_scope() as db:
            self.rows = subscriptions.list_for_user(db, self.user_id)
        self.loaded = True

    @rx.event
    @signed_in_only
    def load_subscriptions(self) -> None:
        self.error = self.notice = ""
        self._refresh()

    def _change(self, subscription_id: str, cancel: bool) -> None:
        self.error = self.notice = ""
        if not str(subscription_id).isdigit():
            self.error = "That subscription does not exist."
            return
        try:
            with session_scope() as db:
                subscriptions.set_cancel_at_period_end(db, self.user_id, int(subscription_id), cancel)
        except ServiceError as error:
            self.error = error.message
            self._refresh()
            return
        self._refresh()
        row = next((r for r in self.rows if r["id"] == str(subscription_id)), None)
        when = row["next_renewal"] if row else ""
        self.notice = (
            f"Renewals stopped. Your subscription stays active until {when}."
            if cancel
            else "Welcome back: your subscription renews as before."
        )

    @rx.event
    @signed_in_only
    def cancel_renewal(self, subscription_id: str) -> None:
        self._change(subscription_id, True)

    @rx.event
    @signed_in_only
    def resume_renewal(self, subscription_id: str) -> None:
        self._change(subscription_id, False)


def _subscription_card(row: rx.Var) -> rx.Component:
    def fact(label: str, value: rx.Var, fact_id: str) -> rx.Component:
        return rx.vstack(
            rx.text(label, size="1", color_scheme="gray", weight="medium"),
            rx.text(value, size="3", weight="medium", id=fact_id),
            spacing="1",
            align="start",
            min_width="9rem",
        )

    return card(
        rx.hstack(
            rx.vstack(
                rx.heading(row["title"], size="4"),
                rx.text(row["plan"], size="2", color_scheme="gray"),
                spacing="1",
                align="start",
            ),
            rx.spacer(),
            status_badge(rx.cond(row["can_resume"] == "1", "pending", row["status"]), row["status_label"]),
            width="100%",
            align="start",
        ),
        rx.flex(
            fact("Amount", row["amount"], "subscription-amount"),
            fact(
                rx.cond(row["can_resume"] == "1", "Ends on", "Next renewal"),
                row["next_renewal"],
                "subscription-renewal",
            ),
            fact("First order", row["order_number"], "subscription-order"),
            spacing="5",
            wrap="wrap",
            margin_top="1rem",
        ),
        rx.hstack(
            rx.cond(
                row["can_cancel"] == "1",
                rx.button(
                    rx.icon("circle-stop", size=16),
                    "Cancel at period end",
                    variant="soft",
                    color_scheme="red",
                    on_click=SubscriptionsState.cancel_renewal(row["id"]),
                    id="cancel-subscription",
                ),
            ),
            rx.cond(
                row["can_resume"] == "1",
                rx.button(
                    rx.icon("rotate-ccw", size=16),
                    "Resume renewals",
                    on_click=SubscriptionsState.resume_renewal(row["id"]),
                    id="resume-subscription",
                ),
            ),
            rx.cond(
                row["status"] == "past_due",
                rx.text("Your last payment failed; Stripe will try your card again.", size="2", color_scheme="red"),
            ),
            spacing="3",
            margin_top="1rem",
        ),
        width="100%",
        class_name="subscription-card",
    )


@page(
    route=routes.ACCOUNT_SUBSCRIPTIONS,
    title="Subscriptions",
    guard="signed_in",
    on_load=SubscriptionsState.load_subscriptions,
    nav=NavEntry(label="Subscriptions", icon="repeat", order=15),
)
def account_subscriptions_page() -> rx.Component:
    return account_page(
        page_title("Subscriptions", "Your plans, their next renewal, and how to stop or resume them."),
        rx.vstack(
            form_alert(SubscriptionsState.error),
            form_alert(SubscriptionsState.notice, color="green", icon="circle-check", alert_id="form-notice"),
            rx.cond(
                SubscriptionsState.loaded,
                rx.cond(
                    SubscriptionsState.rows.length() > 0,
                    rx.vstack(rx.foreach(SubscriptionsState.rows, _subscription_card), spacing="4", width="100%"),
                    empty_state(
                        "repeat",
                        "No subscriptions",
                        "Plans such as Growth Autopilot renew every month; they will show here with their next renewal.",
                        rx.link(rx.button("Browse services", variant="soft"), href=routes.SERVICES),
                    ),
                ),
                loading_block(),
            ),
            spacing="4",
            width="100%",
        ),
    )
