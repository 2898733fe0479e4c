"""The reset-password page: the link's one-time token sets a new password."""

from __future__ import annotations

import reflex as rx

from smplat.ui import routes
from smplat.ui.components.common import form_alert, form_field
from smplat.ui.pages.storefront._auth_form import AuthFormState, _auth_card, _submit
from smplat.ui.registry import page


@page(route=routes.RESET_PASSWORD, title="Choose a new password", on_load=AuthFormState.open_form)
def reset_password_page() -> rx.Component:
    form = rx.form(
        rx.vstack(
            form_alert(AuthFormState.form_error),
            form_alert(AuthFormState.form_notice, color="green", icon="circle-check", alert_id="form-notice"),
            form_field(
                "New password", "password", AuthFormState.password_error, type="password", autocomplete="new-password"
            ),
            form_field(
                "Repeat new password",
                "password_confirm",
                AuthFormState.name_error,
                type="password",
                autocomplete="new-password",
            ),
            _submit("Set new password", "reset-submit"),
            spacing="3",
            width="100%",
        ),
        on_submit=AuthFormState.reset_password,
        id="reset-form",
        width="100%",
    )
    footer = rx.link("Back to sign in", href=routes.SIGN_IN, size="2")
    return _auth_card("Choose a new password", "Links work once and for one hour.", form, footer)
