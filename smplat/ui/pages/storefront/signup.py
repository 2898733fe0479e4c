"""The sign-up page."""

from __future__ import annotations

import reflex as rx

from smplat.services import accounts
from smplat.ui import routes
from smplat.ui.components.common import form_alert, form_field
from smplat.ui.pages.storefront._auth_form import AuthFormState, _auth_card, _submit
from smplat.ui.registry import page


@page(route=routes.SIGN_UP, title="Create account", on_load=AuthFormState.open_form)
def signup_page() -> rx.Component:
    form = rx.form(
        rx.vstack(
            form_alert(AuthFormState.form_error),
            form_field(
                "Full name", "full_name", AuthFormState.name_error, placeholder="Alex Example", autocomplete="name"
            ),
            form_field(
                "Email",
                "email",
                AuthFormState.email_error,
                type="email",
                placeholder="you@example.com",
                autocomplete="email",
            ),
            form_field(
                "Password",
                "password",
                AuthFormState.password_error,
                type="password",
                autocomplete="new-password",
                hint=f"At least {accounts.PASSWORD_MIN_LENGTH} characters, mixing letters with digits or symbols.",
            ),
            _submit("Create account", "signup-submit"),
            spacing="3",
            width="100%",
        ),
        on_submit=AuthFormState.sign_up,
        id="signup-form",
        width="100%",
    )
    footer = rx.text("Already have an account? ", rx.link("Sign in", href=routes.SIGN_IN), size="2")
    return _auth_card("Create your account", "Track every order live and get receipts in one place.", form, footer)
