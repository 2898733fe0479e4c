"""The forgot-password page: emails a one-time reset link."""

from __future__ import annotations

import reflex as rx

from smplat.ui import routes
from smplat.ui.components.common import form_alert, form_field
from smplat.ui.pages.storefront._auth_form import AuthFormState, _auth_card, _submit
from smplat.ui.registry import page


@page(route=routes.FORGOT_PASSWORD, title="Reset password", on_load=AuthFormState.open_form)
def forgot_password_page() -> rx.Component:
    form = rx.form(
        rx.vstack(
            form_alert(AuthFormState.form_error),
            form_alert(AuthFormState.form_notice, color="green", icon="mail-check", alert_id="form-notice"),
            form_field(
                "Email",
                "email",
                AuthFormState.email_error,
                type="email",
                placeholder="you@example.com",
                autocomplete="email",
            ),
            _submit("Email me a reset link", "forgot-submit"),
            spacing="3",
            width="100%",
        ),
        on_submit=AuthFormState.request_reset,
        reset_on_submit=False,
        id="forgot-form",
        width="100%",
    )
    footer = rx.link("Back to sign in", href=routes.SIGN_IN, size="2")
    return _auth_card("Reset your password", "We'll email you a link to choose a new one.", form, footer)
