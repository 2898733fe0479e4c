"""My account → Settings: name, email (confirmed by a link to the new address), password, the
signed-in devices, and links to two-factor and linked profiles. Every rule is in
`services.account_settings` / `services.accounts`; every handler re-checks the session."""

from __future__ import annotations

from typing import Any

import reflex as rx

from smplat.db import session_scope
from smplat.integrations.smtp import EmailDeliveryError
from smplat.services import account_settings, accounts
from smplat.services.accounts import AccountError
from smplat.services.errors import ServiceError
from smplat.ui import routes
from smplat.ui.components.common import card, form_alert, form_field, page_title
from smplat.ui.components.layout import account_page
from smplat.ui.registry import NavEntry, page
from smplat.ui.state.auth import AuthState, requires

_NAME_KEYS = ("full_name",)
_EMAIL_KEYS = ("new_email", "email_password")
_PASSWORD_KEYS = ("current_password", "new_password", "new_password_confirm")


def _only(form: dict[str, Any], keys: tuple[str, ...]) -> dict[str, str]:
    """The form's own fields (Reflex also sends each input under its id, which is the same)."""
    return {key: str(form.get(key, "") or "") for key in keys}


class SettingsState(AuthState):
    loaded: bool = False
    email: str = ""
    full_name: str = ""
    pending_email: str = ""
    sessions: list[dict[str, Any]] = []

    name_error: str = ""
    name_notice: str = ""
    new_email_error: str = ""
    email_password_error: str = ""
    email_notice: str = ""
    email_form_error: str = ""
    current_password_error: str = ""
    new_password_error: str = ""
    password_notice: str = ""
    sessions_notice: str = ""
    sessions_error: str = ""

    def _reload(self, db, user_id: int) -> None:
        user = db.get(accounts.User, user_id)
        self.email, self.full_name = user.email, user.full_name
        self.user_email, self.user_name = user.email, user.full_name  # the header too
        self.pending_email = account_settings.pending_email(db, user_id)
        self.sessions = account_settings.list_sessions(db, user_id=user_id, current_token=self._session_token())
        self.loaded = True

    @rx.event
    @requires("signed_in")
    def load_settings(self) -> None:
        with session_scope() as db:
            self._reload(db, self.user_id)

    @rx.event
    @requires("signed_in")
    def save_name(self, form: dict[str, Any]) -> None:
        values = _only(form, _NAME_KEYS)
        self.name_error = self.name_notice = ""
        try:
            with session_scope() as db:
                account_settings.change_name(db, user_id=self.user_id, full_name=values["full_name"])
        except AccountError as error:
            self.name_error = error.message
            return
        with session_scope() as db:
            self._reload(db, self.user_id)
        self.name_notice = "Your name is saved."

    @rx.event
    @requires("signed_in")
    def request_email_change(self, form: dict[str, Any]) -> None:
        values = _only(form, _EMAIL_KEYS)
        self.new_email_error = self.email_password_error = self.email_notice = self.email_form_error = ""
        try:
            with session_scope() as db:
                account_settings.request_email_change(
                    db,
                    user_id=self.user_id,
                    new_email=values["new_email"],
                    current_password=values["email_password"],
                    ip_address=self._client_ip(),
                )
        except (AccountError, ServiceError) as error:
            field = getattr(error, "field", None)
            if field == "current_password":
                self.email_password_error = error.message
            elif field in ("new_email", "email"):
                self.new_email_error = error.message
            else:
                self.email_form_error = error.message
            return
        except EmailDeliveryError:
            self.email_form_error = "We couldn't send the email just now. Please try again in a minute."
            return
        with session_scope() as db:
            self._reload(db, self.user_id)
        self.email_notice = (
            f"We sent a link to {self.pending_email}. Your address changes when you open it there; "
            f"until then you sign in with {self.email}."
        )

    @rx.event
    @requires("signed_in")
    def change_password(self, form: dict[str, Any]) -> None:
        values = _only(form, _PASSWORD_KEYS)
        self.current_password_error = self.new_password_error = self.password_notice = ""
        if values["new_password"] != values["new_password_confirm"]:
            self.new_password_error = "The two new passwords don't match."
            return
        try:
            with session_scope() as db:
                accounts.change_password(
                    db,
                    user_id=self.user_id,
                    current_password=values["current_password"],
                    new_password=values["new_password"],
                    keep_session_token=self._session_token(),
                    ip_address=self._client_ip(),
                )
        except (AccountError, ServiceError) as error:
            if getattr(error, "field", None) == "current_password":
                self.current_password_error = error.message
            else:
                self.new_password_error = error.message
            return
        with session_scope() as db:
            self._reload(db, self.user_id)
        self.password_notice = "Your password is changed. Every other device is signed out."

    @rx.event
    @requires("signed_in")
    def sign_out_session(self, session_id: int) -> None:
        self.sessions_notice = self.sessions_error = ""
        if isinstance(session_id, bool) or not isinstance(session_id, int):
            self.sessions_error = "That session is not one of your other signed-in devices."
            return
        try:
            with session_scope() as db:
                account_settings.sign_out_session(
                    db, user_id=self.user_id, session_id=session_id, current_token=self._session_token()
                )
        except AccountError as error:
            self.sessions_error = error.message
            return
        with session_scope() as db:
            self._reload(db, self.user_id)
        self.sessions_notice = "That device is signed out."

    @rx.event
    @requires("signed_in")
    def sign_out_everywhere_else(self) -> None:
        self.sessions_notice = self.sessions_error = ""
        with session_scope() as db:
            ended = account_settings.sign_out_everywhere_else(
                db, user_id=self.user_id, current_token=self._session_token()
            )
        with session_scope() as db:
            self._reload(db, self.user_id)
        self.sessions_notice = (
            f"Signed out on {ended} other device{'' if ended == 1 else 's'}."
            if ended
            else "No other device was signed in."
        )


# --- layout -------------------------------------------------------------------------------------


def _section(title: str, text: str, *children: rx.Component, section_id: str) -> rx.Component:
    return card(
        rx.vstack(
            rx.heading(title, size="4"),
            rx.text(text, size="2", color_scheme="gray") if text else rx.fragment(),
            *children,
            spacing="3",
            width="100%",
            align="start",
        ),
        width="100%",
        id=section_id,
    )


def _notice(message: rx.Var, notice_id: str) -> rx.Component:
    return form_alert(message, color="green", icon="circle-check", alert_id=notice_id)


def _save(label: str, button_id: str) -> rx.Component:
    return rx.button(label, type="submit", id=button_id, width=rx.breakpoints(initial="100%", sm="auto"))


def _name_section() -> rx.Component:
    return _section(
        "Name",
        "How we greet you, and the name on your receipts.",
        rx.form(
            rx.vstack(
                form_field(
                    "Your name",
                    "full_name",
                    SettingsState.name_error,
                    autocomplete="name",
                    default_value=SettingsState.full_name,
                ),
                _notice(SettingsState.name_notice, "name-notice"),
                _save("Save name", "settings-save-name"),
                spacing="3",
                width="100%",
                align="start",
            ),
            on_submit=SettingsState.save_name,
            width="100%",
            key=SettingsState.full_name,  # a fresh form (default value) after each save
        ),
        section_id="settings-name",
    )


def _email_section() -> rx.Component:
    return _section(
        "Email address",
        "We send a link to the new address; your address changes only when you open it there.",
        rx.text(
            "You sign in with ",
            rx.text.strong(SettingsState.email, id="settings-email"),
            ".",
            size="2",
        ),
        rx.cond(
            SettingsState.pending_email != "",
            rx.callout(
                rx.text("Waiting for confirmation: ", rx.text.strong(SettingsState.pending_email)),
                icon="mail",
                color_scheme="amber",
                size="1",
                width="100%",
                id="pending-email",
            ),
        ),
        rx.form(
            rx.vstack(
                form_field(
                    "New email address", "new_email", SettingsState.new_email_error, type="email", autocomplete="email"
                ),
                form_field(
                    "Current password",
                    "email_password",
                    SettingsState.email_password_error,
                    type="password",
                    autocomplete="current-password",
                ),
                form_alert(SettingsState.email_form_error, alert_id="email-form-error"),
                _notice(SettingsState.email_notice, "email-notice"),
                _save("Send confirmation link", "change-email"),
                spacing="3",
                width="100%",
                align="start",
            ),
            on_submit=SettingsState.request_email_change,
            reset_on_submit=True,
            width="100%",
        ),
        section_id="settings-email-section",
    )


def _password_section() -> rx.Component:
    return _section(
        "Password",
        "Changing it signs out every other device and cancels any password-reset link.",
        rx.form(
            rx.vstack(
                form_field(
                    "Current password",
                    "current_password",
                    SettingsState.current_password_error,
                    type="password",
                    autocomplete="current-password",
                ),
                form_field(
                    "New password",
                    "new_password",
                    SettingsState.new_password_error,
                    type="password",
                    autocomplete="new-password",
                    hint=f"At least {accounts.PASSWORD_MIN_LENGTH} characters.",
                ),
                form_field(
                    "New password again",
                    "new_password_confirm",
                    rx.Var.create(""),
                    type="password",
                    autocomplete="new-password",
                ),
                _notice(SettingsState.password_notice, "password-notice"),
                _save("Change password", "change-password"),
                spacing="3",
                width="100%",
                align="start",
            ),
            on_submit=SettingsState.change_password,
            reset_on_submit=True,
            width="100%",
        ),
        section_id="settings-password",
    )


def _session_row(row: rx.Var) -> rx.Component:
    return rx.box(
        rx.flex(
            rx.vstack(
                rx.hstack(
                    rx.icon("monitor-smartphone", size=16),
                    rx.text(row["device"], weight="bold", size="2"),
                    rx.cond(row["current"], rx.badge("This device", color_scheme="green", variant="soft")),
                    spacing="2",
                    align="center",
                    wrap="wrap",
                ),
                rx.text("IP ", row["ip"], size="1", color_scheme="gray"),
                rx.text(
                    "Signed in ", row["signed_in_at"], " · last seen ", row["last_seen"], size="1", color_scheme="gray"
                ),
                rx.text(row["user_agent"], size="1", color_scheme="gray", style={"word_break": "break-all"}),
                spacing="1",
                align="start",
                min_width="0",
                flex="1",
            ),
            rx.cond(
                row["current"],
                rx.fragment(),
                rx.button(
                    "Sign out",
                    variant="soft",
                    color_scheme="red",
                    size="2",
                    on_click=SettingsState.sign_out_session(row["id"].to(int)),
                    id="sign-out-session-" + row["id"].to(str),
                ),
            ),
            direction=rx.breakpoints(initial="column", sm="row"),
            spacing="3",
            align=rx.breakpoints(initial="start", sm="center"),
            width="100%",
        ),
        padding_y="0.75rem",
        border_bottom="1px solid var(--gray-4)",
        width="100%",
        class_name="session-row",
    )


def _sessions_section() -> rx.Component:
    return _section(
        "Signed-in devices",
        "Every browser where your account is signed in now. Sign out any you don't recognise, then change your password.",
        rx.vstack(rx.foreach(SettingsState.sessions, _session_row), spacing="0", width="100%", id="sessions-list"),
        form_alert(SettingsState.sessions_error, alert_id="sessions-error"),
        _notice(SettingsState.sessions_notice, "sessions-notice"),
        rx.button(
            "Sign out everywhere else",
            variant="outline",
            color_scheme="red",
            on_click=SettingsState.sign_out_everywhere_else,
            id="sign-out-everywhere-else",
            width=rx.breakpoints(initial="100%", sm="auto"),
        ),
        section_id="settings-sessions",
    )


def _link_row(title: str, text: str, href: str, link_id: str) -> rx.Component:
    return rx.link(
        rx.hstack(
            rx.vstack(
                rx.text(title, weight="bold", size="2"),
                rx.text(text, size="1", color_scheme="gray"),
                spacing="0",
                align="start",
            ),
            rx.spacer(),
            rx.icon("chevron-right", size=16),
            align="center",
            width="100%",
        ),
        href=href,
        id=link_id,
        underline="none",
        width="100%",
    )


def _more_section() -> rx.Component:
    return _section(
        "Security and profiles",
        "",
        _link_row(
            "Two-factor sign-in", "Ask for a code from your phone at sign-in.", routes.ACCOUNT_SECURITY, "link-2fa"
        ),
        rx.separator(size="4"),
        _link_row(
            "Linked profiles",
            "The social accounts you order for, saved once.",
            routes.ACCOUNT_PROFILES,
            "link-profiles",
        ),
        section_id="settings-links",
    )


def _coming(title: str, text: str, section_id: str) -> rx.Component:
    return _section(title, text, rx.badge("Coming later", variant="soft", color_scheme="gray"), section_id=section_id)


@page(
    route=routes.ACCOUNT_SETTINGS,
    title="Settings",
    guard="signed_in",
    on_load=SettingsState.load_settings,
    nav=NavEntry(label="Settings", icon="settings", order=90),
)
def account_settings_page() -> rx.Component:
    return account_page(
        page_title("Settings", "Your name, sign-in details and signed-in devices."),
        rx.cond(
            SettingsState.loaded,
            rx.vstack(
                _name_section(),
                _email_section(),
                _password_section(),
                _sessions_section(),
                _more_section(),
                _coming(
                    "Notifications",
                    "Order and delivery emails go to your address now; choosing which ones you get is not built yet.",
                    "settings-notifications",
                ),
                _section(
                    "Billing",
                    "",
                    _link_row(
                        "Billing details and invoices",
                        "Who invoices are made out to, and every invoice as a PDF.",
                        routes.ACCOUNT_BILLING,
                        "link-billing",
                    ),
                    section_id="settings-billing",
                ),
                _coming(
                    "Your data",
                    "Downloading or deleting your data from this page is not built yet; write to us and we do it by hand.",
                    "settings-data",
                ),
                spacing="4",
                width="100%",
            ),
            rx.vstack(
                *[rx.skeleton(height="12rem", width="100%") for _ in range(3)],
                spacing="4",
                width="100%",
                id="settings-skeleton",
            ),
        ),
    )
