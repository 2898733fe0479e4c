"""The catalog (`/services`): search, category filter, sort and pagination, all in the URL,
so a link shares the exact listing and the back button works. Each search is recorded
only with the visitor's analytics consent."""

from __future__ import annotations

from typing import Any

import reflex as rx

from smplat.db import session_scope
from smplat.services import catalog, search
from smplat.services.rate_limits import RateLimited
from smplat.ui import routes
from smplat.ui.components.bundles import bundles_section
from smplat.ui.components.common import empty_state, page_title
from smplat.ui.components.consent import ConsentState
from smplat.ui.components.layout import storefront_page
from smplat.ui.components.product_cards import product_grid
from smplat.ui.components.skeletons import product_grid_skeleton, skeleton_text
from smplat.ui.registry import page
from smplat.ui.state.auth import AuthState

SORT_OPTIONS = [{"value": key, "label": label} for key, label in search.SORTS.items()]


class ServicesState(AuthState):
    """Display rows of one page of results plus the parameters that produced them."""

    products: list[dict[str, Any]] = []
    categories: list[dict[str, str]] = []
    q: str = ""
    category: str = ""
    sort: str = search.DEFAULT_SORT
    page: int = 1
    pages: int = 1
    total: int = 0
    range_label: str = ""
    prev_href: str = ""
    next_href: str = ""
    loaded: bool = False
    # "Too many searches…" when the IP spent its search limit (the listing is then empty)
    notice: str = ""

    def _params(self) -> search.SearchParams:
        return search.SearchParams(q=self.q, category=self.category, sort=self.sort, page=self.page)

    def _go(self, **changes: Any):
        return rx.redirect(routes.SERVICES + self._params().query_string(**changes))

    @rx.event
    async def load_services(self) -> None:
        self.load_user()
        params = search.parse_params(dict(self.router.url.query_parameters))
        consent = await self.get_state(ConsentState)
        self.notice = ""
        try:
            search.guard_search(params, self._client_ip())
        except RateLimited as exc:
            self.q, self.category, self.sort, self.page = params.q, params.category, params.sort, 1
            self.products, self.total, self.pages, self.range_label = [], 0, 1, ""
            self.prev_href = self.next_href = ""
            self.notice = f"Too many searches from your network. {exc.message.split('. ', 1)[-1]}"
            self.loaded = True
            return
        with session_scope() as db:
            self.categories = [{"slug": c.slug, "name": c.name} for c in catalog.list_categories(db)]
            result = search.search_catalog(db, params)
            search.record_search(db, params, result.pagination.total, consent.choice, client_ip=self._client_ip())
            self._note_visit(db)
        p = result.pagination
        self.q, self.category, self.sort, self.page = params.q, params.category, params.sort, p.page
        self.pages, self.total = p.pages, p.total
        self.products = [card.as_row() for card in result.cards]
        self.range_label = (
            f"{p.first_index}–{p.last_index} of {p.total}"
            if p.pages > 1
            else f"{p.total} service{'' if p.total == 1 else 's'}"
        )
        self.prev_href = routes.SERVICES + params.query_string(page=p.page - 1) if p.page > 1 else ""
        self.next_href = routes.SERVICES + params.query_string(page=p.page + 1) if p.page < p.pages else ""
        self.loaded = True

    @rx.event
    def submit_search(self, form: dict[str, Any]):
        return self._go(q=" ".join(str(form.get("q", "")).split())[: search.QUERY_MAX], page=1)

    @rx.event
    def choose_category(self, slug: str):
        return self._go(category=slug, page=1)

    @rx.event
    def choose_sort(self, sort: str):
        return self._go(sort=sort if sort in search.SORTS else search.DEFAULT_SORT, page=1)

    @rx.event
    def clear_search(self):
        return rx.redirect(routes.SERVICES)


def _chip(label: rx.Var | str, slug: rx.Var | str) -> rx.Component:
    active = ServicesState.category == slug
    return rx.button(
        label,
        variant=rx.cond(active, "solid", "soft"),
        color_scheme=rx.cond(active, "violet", "gray"),
        radius="full",
        on_click=ServicesState.choose_category(slug),
    )


def _search_bar() -> rx.Component:
    return rx.form(
        rx.hstack(
            rx.input(
                rx.input.slot(rx.icon("search", size=16)),
                name="q",
                id="catalog-search",
                placeholder="Search services, e.g. “tiktok likes”",
                default_value=ServicesState.q,
                key=ServicesState.q,
                size="3",
                type="search",
                max_length=search.QUERY_MAX,
                width="100%",
                aria_label="Search services",
            ),
            rx.button("Search", size="3", type="submit", id="catalog-search-submit"),
            width="100%",
            spacing="2",
        ),
        on_submit=ServicesState.submit_search,
        width="100%",
        role="search",
    )


def _toolbar() -> rx.Component:
    return rx.flex(
        rx.flex(
            _chip("All", ""),
            rx.foreach(ServicesState.categories, lambda c: _chip(c["name"], c["slug"])),
            spacing="2",
            wrap="wrap",
            id="category-filter",
        ),
        rx.hstack(
            rx.text("Sort", size="2", color_scheme="gray"),
            rx.select.root(
                rx.select.trigger(id="sort-select", aria_label="Sort services"),
                rx.select.content(*[rx.select.item(o["label"], value=o["value"]) for o in SORT_OPTIONS]),
                value=ServicesState.sort,
                on_change=ServicesState.choose_sort,
            ),
            spacing="2",
            align="center",
        ),
        justify="between",
        align="center",
        wrap="wrap",
        spacing="3",
        width="100%",
    )


def _pager() -> rx.Component:
    def step(label: str, icon: str, href: rx.Var, link_id: str, icon_first: bool) -> rx.Component:
        parts = [rx.icon(icon, size=14), label] if icon_first else [label, rx.icon(icon, size=14)]
        return rx.cond(
            href != "",
            rx.link(rx.button(*parts, variant="soft"), href=href, id=link_id),
            rx.button(*parts, variant="soft", disabled=True),
        )

    return rx.cond(
        ServicesState.pages > 1,
        rx.hstack(
            step("Previous", "arrow-left", ServicesState.prev_href, "page-prev", True),
            rx.text(
                "Page ",
                ServicesState.page,
                " of ",
                ServicesState.pages,
                size="2",
                color_scheme="gray",
                id="page-status",
            ),
            step("Next", "arrow-right", ServicesState.next_href, "page-next", False),
            justify="center",
            align="center",
            spacing="4",
            width="100%",
            margin_top="1.5rem",
            id="pagination",
        ),
    )


def _results() -> rx.Component:
    return rx.cond(
        ServicesState.notice != "",
        rx.callout(ServicesState.notice, icon="timer", color_scheme="amber", width="100%", id="search-limited"),
        _listing(),
    )


def _listing() -> rx.Component:
    return rx.cond(
        ServicesState.products.length() > 0,
        rx.vstack(
            rx.text(ServicesState.range_label, size="2", color_scheme="gray", id="result-count"),
            product_grid(ServicesState.products),
            _pager(),
            spacing="3",
            width="100%",
        ),
        empty_state(
            "search-x",
            rx.cond(ServicesState.q != "", "No services match “" + ServicesState.q + "”", "No services here yet"),
            "Check the spelling, try a shorter word, or browse every platform.",
            rx.button("Show all services", variant="soft", on_click=ServicesState.clear_search, id="clear-search"),
            id="no-results",
        ),
    )


def _results_skeleton() -> rx.Component:
    """The result count and two rows of cards at their final size, so the bundles and the
    footer start below the fold and nothing moves when the results arrive."""
    return rx.vstack(
        rx.text(skeleton_text(width="6em"), size="2"),
        product_grid_skeleton(6),
        spacing="3",
        width="100%",
        aria_busy="true",
        id="results-skeleton",
    )


@page(route=routes.SERVICES, title="Services", on_load=ServicesState.load_services)
def services_page() -> rx.Component:
    return storefront_page(
        page_title("Services", "Every package we deliver, by platform."),
        rx.vstack(
            _search_bar(),
            _toolbar(),
            spacing="4",
            width="100%",
            margin_bottom="1.5rem",
        ),
        rx.cond(ServicesState.loaded, _results(), _results_skeleton()),
        rx.cond(ServicesState.q == "", bundles_section()),
    )
