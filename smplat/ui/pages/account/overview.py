"""My account → Overview: active orders, delivered this month, spend, latest activity."""

from __future__ import annotations

import reflex as rx

from smplat.ui import routes
from smplat.ui.components.client_orders import order_cards
from smplat.ui.components.common import card, stat_card
from smplat.ui.components.layout import account_page
from smplat.ui.components.skeletons import table_skeleton
from smplat.ui.components.sparkline import profile_sparklines
from smplat.ui.pages.account._state import AccountState, no_orders
from smplat.ui.registry import NavEntry, page
from smplat.ui.state.auth import AuthState
from smplat.ui.state.live import live_ticker


def _activity() -> rx.Component:
    return card(
        rx.vstack(
            rx.heading("Latest activity", size="4"),
            rx.cond(
                AccountState.activity.length() > 0,
                rx.foreach(
                    AccountState.activity,
                    lambda a: rx.link(
                        rx.vstack(
                            rx.text(a["text"], size="2"),
                            rx.text(a["number"], " · ", a["at"], size="1", color_scheme="gray"),
                            spacing="0",
                            align="start",
                        ),
                        href=routes.ACCOUNT_ORDERS + "/" + a["number"],
                        underline="none",
                        color="inherit",
                    ),
                ),
                rx.text("Nothing yet.", size="2", color_scheme="gray"),
            ),
            spacing="3",
            align="start",
            width="100%",
        ),
        width="100%",
        id="account-activity",
    )


@page(
    route=routes.ACCOUNT,
    title="My account",
    guard="signed_in",
    on_load=AccountState.load_overview,
    nav=NavEntry(label="Overview", icon="layout-dashboard", order=0),
)
def account_overview_page() -> rx.Component:
    return account_page(
        rx.heading(
            rx.cond(AccountState.first_visit, rx.text.span("Welcome, "), rx.text.span("Welcome back, ")),
            AuthState.display_name,
            size="7",
            weight="bold",
            margin_bottom="0.25rem",
            id="account-welcome",
        ),
        rx.text(
            "Signed in as ",
            rx.text.span(AuthState.user_email, weight="medium", id="account-email"),
            size="2",
            color_scheme="gray",
            margin_bottom="1.25rem",
            word_break="break-all",
        ),
        rx.grid(
            stat_card("Active orders", AccountState.figures.get("active", "0"), "being delivered", icon="loader"),
            stat_card(
                "Delivered this month", AccountState.figures.get("delivered_month", "0"), "orders", icon="circle-check"
            ),
            stat_card("Spend", AccountState.figures.get("spend", "—"), "all time, after refunds", icon="wallet"),
            columns=rx.breakpoints(initial="1", sm="3"),
            spacing="4",
            width="100%",
            margin_bottom="1.5rem",
            id="account-figures",
        ),
        rx.cond(
            ~AccountState.email_verified,
            rx.callout(
                rx.flex(
                    rx.text(
                        rx.cond(
                            AccountState.verification_sent,
                            "The link is on its way: open it to confirm your email.",
                            "Confirm your email: orders you paid for as a guest with it then appear here.",
                        )
                    ),
                    rx.cond(
                        ~AccountState.verification_sent,
                        rx.button(
                            "Send the link",
                            size="1",
                            variant="soft",
                            on_click=AccountState.send_verification,
                            id="send-verification",
                        ),
                    ),
                    spacing="3",
                    align="center",
                    wrap="wrap",
                ),
                icon="mail",
                size="1",
                width="100%",
                margin_bottom="1rem",
                id="verify-email-banner",
            ),
        ),
        # the follower sparkline per linked profile (nothing without profiles)
        rx.box(profile_sparklines(), id="account-profile-sparklines", width="100%"),
        rx.grid(
            rx.vstack(
                rx.heading("Orders in progress", size="5"),
                rx.cond(
                    AccountState.loaded,
                    rx.cond(
                        AccountState.orders.length() > 0,
                        order_cards(AccountState.orders),
                        rx.cond(
                            AccountState.first_visit,
                            no_orders(),
                            rx.text("Nothing in progress right now.", color_scheme="gray", size="2", id="orders-empty"),
                        ),
                    ),
                    table_skeleton(3, 4),
                ),
                rx.link("All orders →", href=routes.ACCOUNT_ORDERS, size="2"),
                spacing="3",
                align="start",
                width="100%",
            ),
            _activity(),
            columns=rx.breakpoints(initial="1", md="2"),
            spacing="4",
            width="100%",
        ),
        live_ticker(AccountState.live_tick),
    )
