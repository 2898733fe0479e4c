"""My account → Privacy: download everything we hold about the account, or delete it
(services.privacy does both; the download is the API route that only serves the owner)."""

from __future__ import annotations

import json

import reflex as rx

from smplat.db import session_scope
from smplat.models.accounts import User
from smplat.services import privacy, two_factor
from smplat.services.errors import ServiceError
from smplat.settings import get_settings
from smplat.ui import routes
from smplat.ui.components.common import card, form_alert, form_field, page_title
from smplat.ui.components.layout import account_page
from smplat.ui.registry import NavEntry, page
from smplat.ui.state.auth import AuthState, navigate_hard, reset_tab_state, signed_in_only

EXPORT_CONTENTS = [
    "Your profile and account settings",
    "Orders, their items and delivery progress, payments and subscriptions",
    "Linked social profiles and their follower history",
    "Saved configurations, sign-in sessions and sign-in attempts",
    "Invoices and the messages we sent you, where we keep them",
    "Audit-log entries about your account and your orders",
]


class PrivacyState(AuthState):
    loaded: bool = False
    needs_code: bool = False
    retention_days: int = 0
    form_error: str = ""
    password_error: str = ""
    code_error: str = ""

    @rx.event
    @signed_in_only
    def load_privacy(self) -> None:
        self.form_error = self.password_error = self.code_error = ""
        with session_scope() as db:
            user = db.get(User, self.user_id)
            self.needs_code = bool(user and two_factor.is_enabled(user))
        self.retention_days = get_settings().account_data_retention_days
        self.loaded = True

    @rx.event
    @signed_in_only
    async def delete_account(self, form: dict):
        self.form_error = self.password_error = self.code_error = ""
        try:
            with session_scope() as db:
                privacy.delete_account(
                    db,
                    self.user_id,
                    str(form.get("password", "")),
                    str(form.get("code", "")),
                    ip_address=self._client_ip(),
                )
        except ServiceError as error:
            if error.field == "password":
                self.password_error = error.message
            elif error.field == "code":
                self.code_error = error.message
            else:
                self.form_error = error.message
            return None
        # every session of the account has ended: this tab forgets the user too
        await reset_tab_state(self)
        self._apply(None)
        return rx.call_script(
            f"fetch({json.dumps(routes.API_SIGNOUT)}, {{method: 'POST', credentials: 'same-origin'}})"
            ".finally(() => window.location.assign('/?account=deleted'))"
        )


def _export_card() -> rx.Component:
    return card(
        rx.vstack(
            rx.heading("Download your data", size="4"),
            rx.text(
                "A ZIP file with one JSON file per kind of record and a README explaining each. It includes:",
                size="2",
                color_scheme="gray",
            ),
            rx.unordered_list(
                *[rx.list_item(rx.text(line, size="2")) for line in EXPORT_CONTENTS], margin_left="1.25rem"
            ),
            # a full request to the API route: a link would be routed client-side (the 404 page)
            rx.button(
                rx.icon("download", size=16),
                "Download my data",
                size="3",
                id="export-data",
                on_click=navigate_hard(routes.API_ACCOUNT_EXPORT),
            ),
            rx.text("We email you each time a copy is downloaded.", size="1", color_scheme="gray"),
            spacing="3",
            width="100%",
            align="start",
        ),
        width="100%",
    )


def _delete_card() -> rx.Component:
    return card(
        rx.vstack(
            rx.heading("Delete your account", size="4", color="var(--red-11)"),
            rx.text(
                "You are signed out everywhere at once. Your name, email, linked profiles and saved "
                "configurations are removed. Orders and payments are kept without your details for ",
                PrivacyState.retention_days.to_string(),
                " days, as the law requires for bookkeeping, then removed. Running subscriptions are cancelled.",
                size="2",
                color_scheme="gray",
            ),
            form_alert(PrivacyState.form_error, alert_id="delete-error"),
            rx.form(
                rx.vstack(
                    form_field(
                        "Your password",
                        "password",
                        PrivacyState.password_error,
                        type="password",
                        autocomplete="current-password",
                    ),
                    rx.cond(
                        PrivacyState.needs_code,
                        form_field(
                            "Code from your authenticator app",
                            "code",
                            PrivacyState.code_error,
                            autocomplete="one-time-code",
                            hint="Or one of your backup codes.",
                        ),
                    ),
                    rx.button(
                        rx.icon("trash-2", size=16),
                        "Delete my account",
                        type="submit",
                        color_scheme="red",
                        size="3",
                        id="delete-account",
                    ),
                    spacing="3",
                    width="100%",
                    max_width="26rem",
                    align="start",
                ),
                on_submit=PrivacyState.delete_account,
                reset_on_submit=False,
                width="100%",
            ),
            spacing="3",
            width="100%",
            align="start",
        ),
        width="100%",
        id="delete-card",
    )


@page(
    route=routes.ACCOUNT_PRIVACY,
    title="Privacy",
    guard="signed_in",
    on_load=PrivacyState.load_privacy,
    nav=NavEntry(label="Privacy", icon="lock", order=80),
)
def account_privacy_page() -> rx.Component:
    return account_page(
        page_title("Your data", "Take a copy of everything we hold about you, or delete your account."),
        rx.vstack(_export_card(), _delete_card(), spacing="4", width="100%"),
    )
