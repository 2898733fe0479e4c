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
    return _auth_card("Welcome back", "Sign in to follow your orders and reorder in seconds.", form, footer)
