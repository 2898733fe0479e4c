"""Admin → Categories: create, rename, describe, order and (de)activate the storefront's
categories. The rules (names, unique address, no deleting a category that holds products)
live in `services/categories.py`; the storefront lists categories in this order."""

from __future__ import annotations

from typing import Any

import reflex as rx

from smplat.db import session_scope
from smplat.models.catalog import Platform
from smplat.services import categories
from smplat.services.errors import ServiceError
from smplat.services.permissions import Permission
from smplat.ui import routes
from smplat.ui.components.common import card, empty_state, form_alert, loading_block, page_title
from smplat.ui.components.layout import admin_page
from smplat.ui.pages.admin._actions import operator_actor
from smplat.ui.registry import NavEntry, page
from smplat.ui.state.auth import AuthState, requires

PLATFORMS = [(p.value, p.value.capitalize() if p.value != "x" else "X") for p in Platform]
_SELECT_STYLE = {
    "height": "32px",
    "border": "1px solid var(--gray-a7)",
    "border_radius": "6px",
    "padding": "0 8px",
    "background": "var(--color-panel-solid)",
}


class CategoriesState(AuthState):
    rows: list[dict[str, Any]] = []
    editing: int = 0
    notice: str = ""
    error: str = ""
    form_version: int = 0
    loaded: bool = False

    def _reload(self) -> None:
        with session_scope() as db:
            self.rows = categories.admin_rows(db)
        self.form_version += 1
        self.loaded = True

    def _done(self, notice: str) -> None:
        self.error, self.notice, self.editing = "", notice, 0
        self._reload()

    def _failed(self, exc: ServiceError) -> None:
        self.notice, self.error = "", exc.message

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def load_categories(self) -> None:
        self.notice = self.error = ""
        self.editing = 0
        self._reload()

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def edit(self, category_id: int) -> None:
        self.editing = int(category_id)
        self.form_version += 1

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def cancel_edit(self) -> None:
        self.editing = 0

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def create(self, form: dict[str, Any]) -> None:
        try:
            with session_scope() as db:
                created = categories.create(
                    db,
                    operator_actor(self),
                    name=str(form.get("name", "")),
                    description=str(form.get("description", "")),
                    platform=str(form.get("platform", "")),
                    slug=str(form.get("slug", "")),
                )
                name = created.name
        except ServiceError as exc:
            self._failed(exc)
            return
        self._done(f"Created “{name}”. It is listed last; move it where it belongs.")

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def save(self, form: dict[str, Any]) -> None:
        raw_id = str(form.get("category_id", ""))
        if not raw_id.isdigit():
            return
        try:
            with session_scope() as db:
                saved = categories.update(
                    db,
                    operator_actor(self),
                    int(raw_id),
                    name=str(form.get("name", "")),
                    description=str(form.get("description", "")),
                    platform=str(form.get("platform", "")),
                    is_active=str(form.get("is_active", "")) in ("on", "true", "1"),
                )
                name = saved.name
        except ServiceError as exc:
            self._failed(exc)
            return
        self._done(f"Saved “{name}”.")

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def move(self, category_id: int, step: int) -> None:
        try:
            with session_scope() as db:
                categories.move(db, operator_actor(self), int(category_id), int(step))
        except ServiceError as exc:
            self._failed(exc)
            return
        self._done("Order saved: the storefront lists categories in this order.")

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def delete(self, category_id: int) -> None:
        try:
            with session_scope() as db:
                categories.delete(db, operator_actor(self), int(category_id))
        except ServiceError as exc:
            self._failed(exc)
            return
        self._done("Category deleted.")


def _platform_select(name_id: str, default: rx.Var | str) -> rx.Component:
    return rx.el.select(
        *[rx.el.option(label, value=value) for value, label in PLATFORMS],
        name="platform",
        id=name_id,
        default_value=default,
        style=_SELECT_STYLE,
    )


def _create_form() -> rx.Component:
    return card(
        rx.form(
            rx.vstack(
                rx.heading("New category", size="4"),
                rx.hstack(
                    rx.input(name="name", id="category-new-name", placeholder="Name, e.g. Threads", width="240px"),
                    rx.input(
                        name="slug", id="category-new-slug", placeholder="Address (optional): threads", width="220px"
                    ),
                    _platform_select("category-new-platform", Platform.OTHER.value),
                    wrap="wrap",
                    spacing="2",
                ),
                rx.text_area(
                    name="description",
                    id="category-new-description",
                    placeholder="One or two sentences shown on the home page",
                    rows="2",
                    width="100%",
                ),
                rx.button(rx.icon("plus", size=16), "Add category", type="submit", id="category-create"),
                spacing="2",
                width="100%",
                align="start",
            ),
            on_submit=CategoriesState.create,
            reset_on_submit=False,
            key="new-" + CategoriesState.form_version.to(str),
            width="100%",
            id="category-create-form",
        ),
        width="100%",
    )


def _edit_row(row: rx.Var) -> rx.Component:
    cid = row["id"].to(str)
    return rx.form(
        rx.vstack(
            rx.el.input(type="hidden", name="category_id", value=cid),
            rx.hstack(
                rx.input(name="name", id="category-name-" + cid, default_value=row["name"], width="240px"),
                _platform_select("category-platform-" + cid, row["platform"].to(str)),
                rx.el.label(
                    rx.el.input(
                        type="checkbox",
                        name="is_active",
                        value="on",
                        id="category-active-" + cid,
                        default_checked=row["is_active"].to(bool),
                    ),
                    " Shown in the shop",
                    style={"font_size": "13px"},
                ),
                wrap="wrap",
                spacing="2",
                align="center",
            ),
            rx.text_area(
                name="description", id="category-description-" + cid, default_value=row["description"], rows="2"
            ),
            rx.hstack(
                rx.button("Save", type="submit", size="2", id="category-save-" + cid),
                rx.button(
                    "Cancel",
                    type="button",
                    size="2",
                    variant="soft",
                    color_scheme="gray",
                    on_click=CategoriesState.cancel_edit,
                ),
                spacing="2",
            ),
            spacing="2",
            width="100%",
            align="start",
        ),
        on_submit=CategoriesState.save,
        key=cid + "-" + CategoriesState.form_version.to(str),
        width="100%",
        id="category-form-" + cid,
    )


def _view_row(row: rx.Var) -> rx.Component:
    cid = row["id"].to(str)
    return rx.hstack(
        rx.vstack(
            rx.hstack(
                rx.text(row["name"], weight="bold"),
                rx.badge(row["platform"], variant="soft", color_scheme="gray"),
                rx.cond(
                    row["is_active"].to(bool),
                    rx.badge("Shown", color_scheme="green", variant="soft"),
                    rx.badge("Hidden", color_scheme="gray", variant="outline"),
                ),
                align="center",
                spacing="2",
                wrap="wrap",
            ),
            rx.text(
                rx.cond(row["description"] != "", row["description"], "No description yet."),
                size="2",
                color_scheme="gray",
            ),
            rx.text(
                "/services?category=" + row["slug"].to(str) + " · " + row["products"].to(str) + " product(s)",
                size="1",
                color_scheme="gray",
            ),
            spacing="1",
            align="start",
            flex="1",
        ),
        rx.hstack(
            rx.icon_button(
                rx.icon("arrow-up", size=14),
                size="1",
                variant="soft",
                color_scheme="gray",
                disabled=row["is_first"].to(bool),
                on_click=CategoriesState.move(row["id"].to(int), -1),
                aria_label="Move up",
                id="category-up-" + cid,
            ),
            rx.icon_button(
                rx.icon("arrow-down", size=14),
                size="1",
                variant="soft",
                color_scheme="gray",
                disabled=row["is_last"].to(bool),
                on_click=CategoriesState.move(row["id"].to(int), 1),
                aria_label="Move down",
                id="category-down-" + cid,
            ),
            rx.button(
                rx.icon("pencil", size=14),
                "Edit",
                size="1",
                variant="soft",
                on_click=CategoriesState.edit(row["id"].to(int)),
                id="category-edit-" + cid,
            ),
            rx.button(
                rx.icon("trash-2", size=14),
                size="1",
                variant="ghost",
                color_scheme="red",
                on_click=CategoriesState.delete(row["id"].to(int)),
                aria_label="Delete category",
                id="category-delete-" + cid,
            ),
            spacing="2",
            align="center",
        ),
        width="100%",
        align="center",
        spacing="3",
    )


def _row(row: rx.Var) -> rx.Component:
    return card(
        rx.cond(CategoriesState.editing == row["id"].to(int), _edit_row(row), _view_row(row)),
        id="category-" + row["slug"].to(str),
        width="100%",
    )


@page(
    route=routes.ADMIN_CATEGORIES,
    title="Categories",
    guard=Permission.EDIT_CATALOG,
    on_load=CategoriesState.load_categories,
    nav=NavEntry(group="Catalog", label="Categories", icon="folder-tree", order=5),
)
def admin_categories_page() -> rx.Component:
    return admin_page(
        page_title("Categories", "The shop lists categories, and their services, in this order."),
        form_alert(CategoriesState.error, alert_id="categories-error"),
        form_alert(CategoriesState.notice, color="green", icon="circle-check", alert_id="categories-notice"),
        rx.cond(
            CategoriesState.loaded,
            rx.vstack(
                _create_form(),
                rx.cond(
                    CategoriesState.rows.length() > 0,
                    rx.vstack(rx.foreach(CategoriesState.rows, _row), spacing="2", width="100%", id="category-list"),
                    empty_state("folder-tree", "No categories yet", "Add the first one above.", id="categories-empty"),
                ),
                spacing="4",
                width="100%",
            ),
            loading_block(),
        ),
    )
