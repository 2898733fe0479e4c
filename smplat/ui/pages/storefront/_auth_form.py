"""The state and frame shared by the account forms: sign in, sign up, forgot and reset password."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

import reflex as rx
from sqlmodel import Session

from smplat.db import session_scope
from smplat.models.accounts import User
from smplat.services import accounts, two_factor
from smplat.services.accounts import AccountError, send_verification_safely
from smplat.services.email import EmailDeliveryError
from smplat.services.errors import ServiceError
from smplat.ui import routes
from smplat.ui.components.common import card
from smplat.ui.components.layout import storefront_page
from smplat.ui.state.auth import AuthState, navigate_hard, reset_tab_state


class AuthFormState(AuthState):
    """Errors and progress shared by the account forms."""

    form_error: str = ""
    form_notice: str = ""
    email_error: str = ""
    password_error: str = ""
    name_error: str = ""
    code_error: str = ""
    submitting: bool = False
    # The password was right and the account has two-factor on: the form asks for the code.
    second_step: bool = False
    # Who passed the password step in THIS tab, and until when (backend only, never sent).
    _pending_user_id: int = 0
    _pending_until: float = 0.0

    def _reset_errors(self) -> None:
        self.form_error = self.form_notice = self.email_error = self.password_error = self.name_error = ""
        self.code_error = ""

    def _clear_pending(self) -> None:
        self._pending_user_id = 0
        self._pending_until = 0.0
        self.second_step = False

    def _show(self, error: AccountError | ServiceError) -> None:
        target = {
            "email": "email_error",
            "password": "password_error",
            "full_name": "name_error",
            "code": "code_error",
        }.get(error.field or "")
        if target:
            setattr(self, target, error.message)
        else:
            self.form_error = error.message

    def _next_path(self) -> str:
        return accounts.safe_next_path(self.router.url.query_parameters.get("next"))

    def _client_ip(self) -> str:
        return self.router.session.client_ip or ""

    async def _enter(self, find_user: Callable[[Session], User], *, second_factor_passed: bool = False):
        """Run a sign-in or sign-up rule; on success hand a one-time ticket to the cookie route.

        Refusals (wrong password or code, throttled, rate-limited) show their message; the
        failed attempt was recorded in its own transaction, so this rollback keeps it. An
        account with two-factor on gets no ticket for its password alone: the tab remembers
        (server-side, for a few minutes) who passed it and asks for the code. Staff who must
        set up two-factor land on the set-up page. On success every state of the tab is
        reset: nothing of a previous user reaches the new one.
        """
        try:
            with session_scope() as db:
                user = find_user(db)
                if two_factor.is_enabled(user) and not second_factor_passed:
                    self._pending_user_id = user.id
                    self._pending_until = two_factor.pending_deadline()
                    self.second_step = True
                    return None
                next_path = self._next_path()
                if two_factor.must_enrol(user.role, user.two_factor_enabled_at):
                    next_path = routes.ACCOUNT_SECURITY
                ticket = accounts.issue_signin_ticket(db, user, next_path)
        except (AccountError, ServiceError) as error:
            self._show(error)
            return None
        await reset_tab_state(self, keep_visitor=True)  # the guest cart follows into the account
        self.submitting = True
        return navigate_hard(f"{routes.API_SESSION}?ticket={quote(ticket)}")

    @rx.event
    def open_form(self):
        """on_load: signed-in visitors skip the form; a bounced ticket explains itself."""
        self._reset_errors()
        self._clear_pending()
        self.submitting = False
        user = self._current_user()
        self._apply(user)
        if user is not None and self.router.page.path in (routes.SIGN_IN, routes.SIGN_UP):
            return rx.redirect(self._next_path(), replace=True)
        if self.router.url.query_parameters.get("error") == "expired":
            self.form_error = "That sign-in link expired. Please sign in again."

    @rx.event
    async def sign_in(self, form: dict):
        self._reset_errors()
        self._clear_pending()
        return await self._enter(
            lambda db: accounts.authenticate(
                db, email=form.get("email", ""), password=form.get("password", ""), ip_address=self._client_ip()
            )
        )

    @rx.event
    async def verify_code(self, form: dict):
        """The second step: a code from the app or a backup code, for the user of this tab's step."""
        self._reset_errors()
        user_id = self._pending_user_id
        if not user_id or not two_factor.pending_is_live(self._pending_until):
            self._clear_pending()
            self.form_error = "That sign-in took too long. Enter your password again."
            return None
        return await self._enter(
            lambda db: two_factor.verify_sign_in(db, user_id, form.get("code", ""), ip_address=self._client_ip()),
            second_factor_passed=True,
        )

    @rx.event
    def restart_sign_in(self):
        """Back from the code step to the password form."""
        self._reset_errors()
        self._clear_pending()

    @rx.event
    async def sign_up(self, form: dict):
        self._reset_errors()
        created: list[int] = []

        def create(db: Session) -> User:
            user = accounts.sign_up(
                db,
                email=form.get("email", ""),
                password=form.get("password", ""),
                full_name=form.get("full_name", ""),
                ip_address=self._client_ip(),
            )
            created.append(user.id)
            return user

        answer = await self._enter(create)
        if created:
            # the link that proves the address (and brings the guest orders paid with it)
            send_verification_safely(created[0])
        return answer

    @rx.event
    def request_reset(self, form: dict):
        self._reset_errors()
        try:
            with session_scope() as db:
                accounts.request_password_reset(db, form.get("email", ""), self._client_ip())
        except (AccountError, ServiceError) as error:
            self._show(error)
            return
        except EmailDeliveryError:
            self.form_error = "We couldn't send the email just now. Please try again in a minute."
            return
        self.form_notice = "If an account exists for that address, a reset link is on its way. It works for one hour."

    @rx.event
    def reset_password(self, form: dict):
        self._reset_errors()
        if form.get("password", "") != form.get("password_confirm", ""):
            self.password_error = "The two passwords don't match."
            return
        token = self.router.url.query_parameters.get("token", "")
        try:
            with session_scope() as db:
                accounts.reset_password(db, token, form.get("password", ""))
        except AccountError as error:
            self._show(error)
            return
        self.form_notice = "Your password is changed and every other session is signed out. Sign in with it now."


def _auth_card(title: str, subtitle: str, form: rx.Component, footer: rx.Component) -> rx.Component:
    return storefront_page(
        rx.center(
            card(
                rx.vstack(
                    rx.heading(title, size="6", weight="bold"),
                    rx.text(subtitle, color_scheme="gray", size="2"),
                    form,
                    footer,
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


def _submit(label: str, button_id: str) -> rx.Component:
    return rx.button(label, type="submit", size="3", width="100%", id=button_id, loading=AuthFormState.submitting)
