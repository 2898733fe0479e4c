"""Terms, privacy and imprint: Markdown from Admin → Content (or the built-in default)."""

from __future__ import annotations

import reflex as rx

from smplat.db import session_scope
from smplat.services import content
from smplat.ui import routes
from smplat.ui.components.common import card, loading_block
from smplat.ui.components.layout import storefront_page
from smplat.ui.registry import register
from smplat.ui.state.auth import AuthState

_DOC_BY_PATH = {routes.TERMS: "terms", routes.PRIVACY: "privacy", routes.IMPRINT: "imprint"}


class LegalState(AuthState):
    title: str = ""
    body_html: str = ""  # sanitised by content.safe_markdown; never the stored text itself
    updated: str = ""
    loaded: bool = False

    @rx.event
    def load_legal(self) -> None:
        self.load_user()
        path = "/" + self.router.url.path.strip("/")
        key = content.LEGAL_KEYS[_DOC_BY_PATH.get(path, "terms")]
        with session_scope() as db:
            view = content.get_block(db, key)
        self.title, self.body_html = view.title, content.safe_markdown(view.body)
        self.updated = f"Last updated {view.updated_at:%d %B %Y}" if view.updated_at else ""
        self.loaded = True


def legal_page() -> rx.Component:
    return storefront_page(
        rx.cond(
            LegalState.loaded,
            rx.box(
                rx.heading(
                    LegalState.title, size="8", weight="bold", letter_spacing="-0.02em", id="legal-title", as_="h1"
                ),
                rx.cond(LegalState.updated != "", rx.text(LegalState.updated, size="2", color_scheme="gray")),
                card(rx.html(LegalState.body_html), margin_top="1.5rem", id="legal-body", class_name="legal-text"),
                rx.hstack(
                    rx.link("Terms", href=routes.TERMS, size="2"),
                    rx.link("Privacy", href=routes.PRIVACY, size="2"),
                    rx.link("Imprint", href=routes.IMPRINT, size="2"),
                    spacing="4",
                    margin_top="1.5rem",
                ),
                max_width="760px",
                margin="0 auto",
            ),
            loading_block(),
        ),
    )


# One component, three routes: the state reads the document from the path.
for _route, _title in (
    (routes.TERMS, "Terms of service"),
    (routes.PRIVACY, "Privacy policy"),
    (routes.IMPRINT, "Imprint"),
):
    register(legal_page, route=_route, title=_title, on_load=LegalState.load_legal)
