"""The email verification link: confirms the address and attaches its guest orders."""

from __future__ import annotations

import reflex as rx

from smplat.db import session_scope
from smplat.services import accounts
from smplat.ui import routes
from smplat.ui.components.common import empty_state, loading_block
from smplat.ui.components.layout import storefront_page
from smplat.ui.registry import page
from smplat.ui.state.auth import AuthState


class VerifyEmailState(AuthState):
    loaded: bool = False
    verified: bool = False

    @rx.event
    def verify(self) -> None:
        self.load_user()
        token = str(self.router.url.query_parameters.get("token", ""))
        with session_scope() as db:
            self.verified = accounts.verify_email(db, token) is not None
        self.loaded = True


@page(route=routes.VERIFY_EMAIL, title="Confirm your email", on_load=VerifyEmailState.verify)
def verify_email_page() -> rx.Component:
    return storefront_page(
        rx.cond(
            VerifyEmailState.loaded,
            rx.cond(
                VerifyEmailState.verified,
                empty_state(
                    "mail-check",
                    "Your email is confirmed",
                    "Orders you paid for as a guest with this address are now in your account.",
                    rx.link(rx.button("My orders"), href=routes.ACCOUNT_ORDERS),
                    id="email-verified",
                ),
                empty_state(
                    "mail-x",
                    "This link does not work",
                    "It may have expired or been used already. Ask for a new one from your account.",
                    rx.link(rx.button("My account"), href=routes.ACCOUNT),
                    id="email-not-verified",
                ),
            ),
            loading_block(),
        )
    )
