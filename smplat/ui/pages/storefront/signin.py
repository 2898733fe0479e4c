"""The sign-in page."""

from __future__ import annotations

import reflex as rx

from smplat.ui import routes
from smplat.ui.components.common import form_alert, form_field
from smplat.ui.pages.storefront._auth_form import AuthFormState, _auth_card, _submit
from smplat.ui.registry import page


@page(route=routes.SIGN_IN, title="Sign in", on_load=AuthFormState.open_form)
def signin_page() -> rx.Component:
    form = rx.form(
        rx.vstack(
            form_alert(AuthFormState.form_error),
            form_field(
                "Email",
                "email",
                AuthFormState.email_error,
                type="email",
                placeholder="you@example.com",
                autocomplete="email",
            ),
            form_field(
                "Password", "password", AuthFormState.password_error, type="password", autocomplete="current-password"
            ),
            rx.link("Forgot your password?", href=routes.FORGOT_PASSWORD, size="2", id="link-forgot"),
            _submit("Sign in", "signin-submit"),
            spacing="3",
            width="100%",
        ),
        on_submit=AuthFormState.sign_in,
        id="signin-form",
        width="100%",
    )
    footer = rx.text("New here? ", rx.link("Create an account", href=routes.SIGN_UP, id="link-signup"), size="2")
    return rx.cond(
        AuthFormState.second_step,
        _auth_card(
            "Two-factor sign-in",
            "Enter the 6-digit code from your authenticator app, or one of your backup codes.",
            _code_form(),
            rx.link(
                "Start over with your password", on_click=AuthFormState.restart_sign_in, size="2", id="link-restart"
            ),
        ),
        _auth_card("Welcome back", "Sign in to follow your orders and reorder in seconds.", form, footer),
    )


def _code_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            form_alert(AuthFormState.form_error),
            form_field(
                "Code",
                "code",
                AuthFormState.code_error,
                placeholder="123456 or a backup code",
                autocomplete="one-time-code",
            ),
            _submit("Verify", "signin-code-submit"),
            spacing="3",
            width="100%",
        ),
        on_submit=AuthFormState.verify_code,
        reset_on_submit=True,
        id="signin-code-form",
        width="100%",
    )
