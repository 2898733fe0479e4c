"""The email-change confirmation page: the link sent to a new address. Opening the page shows a
button (mail scanners that fetch links change nothing); pressing it makes the change."""

from __future__ import annotations

import reflex as rx

from smplat.db import session_scope
from smplat.services import account_settings
from smplat.services.accounts import AccountError
from smplat.ui import routes
from smplat.ui.components.common import card, form_alert
from smplat.ui.components.layout import storefront_page
from smplat.ui.registry import page
from smplat.ui.state.auth import AuthState


class ConfirmEmailState(AuthState):
    confirm_error: str = ""
    confirmed_email: str = ""

    @rx.event
    def open_confirm(self) -> None:
        self.load_user()
        self.confirm_error = self.confirmed_email = ""

    @rx.event
    def confirm(self) -> None:
        token = str(self.router.url.query_parameters.get("token", ""))
        self.confirm_error = ""
        try:
            with session_scope() as db:
                changed = account_settings.confirm_email_change(db, token)
        except AccountError as error:
            self.confirm_error = error.message
            return
        self.confirmed_email = changed.new_email
        if self.user_id == changed.user_id:
            self.user_email = changed.new_email  # the header of this tab


@page(route=routes.CONFIRM_EMAIL, title="Confirm your new email address", on_load=ConfirmEmailState.open_confirm)
def confirm_email_page() -> rx.Component:
    return storefront_page(
        rx.center(
            card(
                rx.vstack(
                    rx.heading("Confirm your new email address", size="6", weight="bold"),
                    rx.cond(
                        ConfirmEmailState.confirmed_email != "",
                        rx.vstack(
                            rx.callout(
                                rx.text(
                                    "Done: your account now uses ",
                                    rx.text.strong(ConfirmEmailState.confirmed_email),
                                    ". Sign in with it from now on.",
                                ),
                                icon="circle-check",
                                color_scheme="green",
                                id="email-confirmed",
                                width="100%",
                            ),
                            rx.link("Go to your account", href=routes.ACCOUNT_SETTINGS, size="2"),
                            spacing="3",
                            width="100%",
                        ),
                        rx.vstack(
                            rx.text(
                                "Press the button to use this address for your account. The link works once.",
                                size="2",
                                color_scheme="gray",
                            ),
                            form_alert(ConfirmEmailState.confirm_error, alert_id="confirm-error"),
                            rx.button(
                                "Use this address",
                                size="3",
                                width="100%",
                                on_click=ConfirmEmailState.confirm,
                                id="confirm-email",
                            ),
                            spacing="3",
                            width="100%",
                        ),
                    ),
                    spacing="4",
                    width="100%",
                ),
                width="100%",
                max_width="420px",
                style={"padding": "2rem"},
            ),
            padding_y="2rem",
        )
    )
