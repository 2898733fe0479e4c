"""My account → Security: two-factor sign-in (TOTP) set-up, backup codes, turning it off."""

from __future__ import annotations

import reflex as rx

from smplat.db import session_scope
from smplat.services import two_factor
from smplat.services.errors import ServiceError
from smplat.ui import routes
from smplat.ui.components.common import card, form_alert, form_field, page_title
from smplat.ui.components.layout import account_page
from smplat.ui.registry import NavEntry, page
from smplat.ui.state.auth import AuthState, signed_in_only

CODES_FILENAME = "smplat-backup-codes.txt"


class TwoFactorState(AuthState):
    """What the security page shows; every change goes through `services.two_factor`."""

    loaded: bool = False
    enabled: bool = False
    required: bool = False
    backup_codes_left: int = 0
    # set-up in progress: the secret as text and its QR code (the user's own, shown to them)
    setup_secret: str = ""
    setup_qr: str = ""
    # fresh backup codes, shown once (cleared when the page loads again)
    new_codes: list[str] = []
    form_error: str = ""
    form_notice: str = ""
    code_error: str = ""

    @rx.var
    def codes_text(self) -> str:
        return "\n".join(self.new_codes)

    def _client_ip(self) -> str:
        return self.router.session.client_ip or ""

    def _reset_messages(self) -> None:
        self.form_error = self.form_notice = self.code_error = ""

    def _show(self, error: ServiceError) -> None:
        if error.field == "code":
            self.code_error = error.message
        else:
            self.form_error = error.message

    def _refresh(self) -> None:
        with session_scope() as db:
            current = two_factor.status(db, self.user_id)
        self.enabled = current.enabled
        self.required = current.required
        self.backup_codes_left = current.backup_codes_left
        self.loaded = True

    @rx.event
    @signed_in_only
    def load_security(self) -> None:
        self._reset_messages()
        self.setup_secret = self.setup_qr = ""
        self.new_codes = []
        self._refresh()

    @rx.event
    @signed_in_only
    def start_setup(self) -> None:
        self._reset_messages()
        try:
            with session_scope() as db:
                enrolment = two_factor.start_enrolment(db, self.user_id)
        except ServiceError as error:
            self._show(error)
            return
        self.setup_secret = enrolment.secret
        self.setup_qr = enrolment.qr_data_uri

    @rx.event
    @signed_in_only
    def confirm_setup(self, form: dict) -> None:
        self._reset_messages()
        try:
            with session_scope() as db:
                codes = two_factor.confirm_enrolment(
                    db, self.user_id, form.get("code", ""), ip_address=self._client_ip()
                )
        except ServiceError as error:
            self._show(error)
            return
        self.setup_secret = self.setup_qr = ""
        self.new_codes = codes
        self.form_notice = "Two-factor sign-in is on. Keep your backup codes somewhere safe."
        self._refresh()

    @rx.event
    @signed_in_only
    def regenerate_codes(self, form: dict) -> None:
        self._reset_messages()
        try:
            with session_scope() as db:
                codes = two_factor.regenerate_backup_codes(
                    db, self.user_id, form.get("code", ""), ip_address=self._client_ip()
                )
        except ServiceError as error:
            self._show(error)
            return
        self.new_codes = codes
        self.form_notice = "New backup codes: the old ones no longer work."
        self._refresh()

    @rx.event
    @signed_in_only
    def turn_off(self, form: dict) -> None:
        self._reset_messages()
        try:
            with session_scope() as db:
                two_factor.disable(db, self.user_id, form.get("proof", ""), ip_address=self._client_ip())
        except ServiceError as error:
            self.form_error = error.message  # shown above: the set-up forms own `code_error`
            return
        self.new_codes = []
        self.form_notice = "Two-factor sign-in is off."
        self._refresh()

    @rx.event
    @signed_in_only
    def download_codes(self):
        return rx.download(data=self.codes_text + "\n", filename=CODES_FILENAME)

    @rx.event
    @signed_in_only
    def hide_codes(self) -> None:
        self.new_codes = []


def _code_form(handler, form_id: str, label: str, button: str, hint: str = "") -> rx.Component:
    return rx.form(
        rx.hstack(
            rx.box(
                form_field(label, "code", TwoFactorState.code_error, autocomplete="one-time-code", hint=hint),
                flex="1",
            ),
            rx.button(button, type="submit", size="3", id=f"{form_id}-submit"),
            align="end",
            spacing="3",
            width="100%",
        ),
        on_submit=handler,
        reset_on_submit=True,
        id=form_id,
        width="100%",
    )


def _backup_codes() -> rx.Component:
    return card(
        rx.vstack(
            rx.heading("Your backup codes", size="4"),
            rx.text(
                "Each code signs you in once if you lose your phone. They are shown only now: copy or "
                "download them and keep them somewhere safe.",
                size="2",
                color_scheme="gray",
            ),
            rx.grid(
                rx.foreach(TwoFactorState.new_codes, lambda code: rx.code(code, size="3", class_name="backup-code")),
                columns="2",
                spacing="2",
                id="backup-codes",
            ),
            rx.hstack(
                rx.button(
                    rx.icon("copy", size=16),
                    "Copy codes",
                    variant="soft",
                    on_click=[rx.set_clipboard(TwoFactorState.codes_text), rx.toast.success("Copied")],
                    id="copy-codes",
                ),
                rx.button(
                    rx.icon("download", size=16),
                    "Download",
                    variant="soft",
                    on_click=TwoFactorState.download_codes,
                    id="download-codes",
                ),
                rx.button("I saved them", variant="outline", on_click=TwoFactorState.hide_codes, id="hide-codes"),
                spacing="2",
                wrap="wrap",
            ),
            spacing="3",
            align="start",
            width="100%",
        ),
        id="backup-codes-card",
    )


def _setup() -> rx.Component:
    return rx.cond(
        TwoFactorState.setup_secret != "",
        card(
            rx.vstack(
                rx.heading("Scan this code", size="4"),
                rx.text(
                    "Open your authenticator app (Google Authenticator, 1Password, Aegis, …), add an account and "
                    "scan the QR code, or type the key below. Then enter the 6-digit code it shows.",
                    size="2",
                    color_scheme="gray",
                ),
                rx.image(
                    src=TwoFactorState.setup_qr,
                    alt="QR code for your authenticator app",
                    width="220px",
                    height="220px",
                    id="totp-qr",
                ),
                rx.text("Key", size="2", weight="medium"),
                rx.code(TwoFactorState.setup_secret, size="3", id="totp-secret", style={"word_break": "break-all"}),
                _code_form(TwoFactorState.confirm_setup, "confirm-totp", "Code from the app", "Turn on"),
                spacing="3",
                align="start",
                width="100%",
            ),
        ),
        card(
            rx.vstack(
                rx.text(
                    "Two-factor sign-in asks for a code from an app on your phone after your password, so a "
                    "stolen password alone cannot open your account.",
                    size="2",
                ),
                rx.button("Set up two-factor sign-in", size="3", on_click=TwoFactorState.start_setup, id="start-totp"),
                spacing="3",
                align="start",
            )
        ),
    )


def _enabled() -> rx.Component:
    return rx.vstack(
        card(
            rx.vstack(
                rx.heading("New backup codes", size="4"),
                rx.text(
                    TwoFactorState.backup_codes_left.to_string() + " unused backup codes left.",
                    size="2",
                    id="backup-codes-left",
                ),
                _code_form(TwoFactorState.regenerate_codes, "regenerate-codes", "Code from the app", "New codes"),
                spacing="3",
                align="start",
                width="100%",
            )
        ),
        rx.cond(
            TwoFactorState.required,
            rx.text(
                "Your role requires two-factor sign-in, so it cannot be turned off.", size="2", color_scheme="gray"
            ),
            card(
                rx.vstack(
                    rx.heading("Turn off", size="4"),
                    rx.form(
                        rx.hstack(
                            rx.box(
                                form_field(
                                    "Code from the app, or your password",
                                    "proof",
                                    rx.Var.create(""),
                                    type="password",
                                    autocomplete="off",
                                ),
                                flex="1",
                            ),
                            rx.button(
                                "Turn off", type="submit", size="3", color_scheme="red", id="disable-totp-submit"
                            ),
                            align="end",
                            spacing="3",
                            width="100%",
                        ),
                        on_submit=TwoFactorState.turn_off,
                        reset_on_submit=True,
                        id="disable-totp",
                        width="100%",
                    ),
                    spacing="3",
                    align="start",
                    width="100%",
                )
            ),
        ),
        spacing="4",
        width="100%",
    )


@page(
    route=routes.ACCOUNT_SECURITY,
    title="Security",
    guard="signed_in",
    on_load=TwoFactorState.load_security,
    nav=NavEntry(label="Security", icon="shield-check", order=30),
)
def account_security_page() -> rx.Component:
    return account_page(
        page_title("Security", "Two-factor sign-in with an authenticator app."),
        rx.vstack(*_sections(), spacing="4", width="100%"),
    )


def _sections() -> list[rx.Component]:
    return [
        rx.cond(
            TwoFactorState.required & ~TwoFactorState.enabled,
            rx.callout(
                "Your role requires two-factor sign-in. Set it up to continue to the admin.",
                icon="shield-alert",
                color_scheme="amber",
                width="100%",
                id="two-factor-required",
            ),
        ),
        form_alert(TwoFactorState.form_error),
        form_alert(TwoFactorState.form_notice, color="green", icon="circle-check", alert_id="form-notice"),
        rx.cond(TwoFactorState.new_codes.length() > 0, _backup_codes()),
        rx.cond(
            TwoFactorState.loaded,
            rx.vstack(
                rx.hstack(
                    rx.text("Two-factor sign-in:", weight="medium"),
                    rx.cond(
                        TwoFactorState.enabled,
                        rx.badge("On", color_scheme="green", id="two-factor-status"),
                        rx.badge("Off", color_scheme="gray", id="two-factor-status"),
                    ),
                    spacing="2",
                    align="center",
                ),
                rx.cond(TwoFactorState.enabled, _enabled(), _setup()),
                spacing="4",
                width="100%",
            ),
            rx.skeleton(height="180px", width="100%"),
        ),
    ]
