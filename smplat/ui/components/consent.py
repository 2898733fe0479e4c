"""The cookie-consent banner and the state holding the visitor's choice.

The choice lives in the `smplat_consent` cookie (not sensitive, so the page writes it) and
comes back to the server with every page load; analytics recorders pass it to
`services.consent.allows_analytics`. The banner stays away once a choice is made; the
footer's "Cookie settings" brings it back.
"""

from __future__ import annotations

import reflex as rx

from smplat.services.consent import CONSENT_COOKIE, CONSENT_MAX_AGE_SECONDS, Consent, has_chosen
from smplat.ui import routes


class ConsentState(rx.State):
    choice: str = rx.Cookie("", name=CONSENT_COOKIE, max_age=CONSENT_MAX_AGE_SECONDS, same_site="lax")
    reopened: bool = False

    @rx.var
    def needs_choice(self) -> bool:
        return self.reopened or not has_chosen(self.choice)

    @rx.event
    def choose(self, value: str) -> None:
        if value in Consent.values():  # anything else is ignored: no choice means no analytics
            self.choice = value
            self.reopened = False

    @rx.event
    def reopen(self) -> None:
        self.reopened = True


def consent_banner() -> rx.Component:
    return rx.cond(
        rx.State.is_hydrated & ConsentState.needs_choice,
        rx.box(
            rx.flex(
                rx.hstack(
                    rx.center(
                        rx.icon("cookie", size=20, color="var(--violet-11)"),
                        width="40px",
                        height="40px",
                        border_radius="12px",
                        background="var(--violet-a3)",
                        flex_shrink="0",
                        class_name="hide-on-phone",
                    ),
                    rx.vstack(
                        rx.text("Your privacy, your choice", weight="bold", size="3"),
                        rx.text(
                            "Essential cookies keep you signed in and remember this choice. With “Accept all” we "
                            "also record what you search in the catalog, without anything that identifies you, "
                            "to learn which services people look for. ",
                            rx.link("Privacy policy", href=routes.PRIVACY, underline="always"),
                            size="2",
                            color_scheme="gray",
                        ),
                        spacing="1",
                        align="start",
                    ),
                    spacing="3",
                    align="start",
                ),
                rx.hstack(
                    rx.button(
                        "Essential only",
                        variant="soft",
                        color_scheme="gray",
                        size="3",
                        on_click=ConsentState.choose(Consent.ESSENTIAL.value),
                        id="consent-essential",
                    ),
                    rx.button(
                        "Accept all", size="3", on_click=ConsentState.choose(Consent.ALL.value), id="consent-accept"
                    ),
                    spacing="2",
                    flex_shrink="0",
                ),
                direction=rx.breakpoints(initial="column", md="row"),
                spacing="4",
                align=rx.breakpoints(initial="stretch", md="center"),
                justify="between",
                max_width="1080px",
                margin="0 auto",
                padding="1rem 1.25rem",
                background="var(--color-panel-solid)",
                border="1px solid var(--gray-a5)",
                border_radius="16px",
                box_shadow="0 12px 32px rgba(16,24,40,.18)",
            ),
            position="fixed",
            bottom="0",
            left="0",
            right="0",
            padding="0.75rem",
            z_index="50",
            id="consent-banner",
            role="dialog",
            aria_label="Cookie consent",
        ),
    )
