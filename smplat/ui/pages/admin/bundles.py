"""Admin → Bundles: operators compose cross-sell bundles (primary product, extras with their
presets, discount, live or paused). Saving goes through `services.bundles.save_bundle`, which
checks every rule and writes the audit log; a broken rule shows beside its field and nothing
is stored."""

from __future__ import annotations

from typing import Any

import reflex as rx

from smplat.db import session_scope
from smplat.services import bundles
from smplat.services.permissions import Permission, PermissionDenied
from smplat.ui import routes
from smplat.ui.components.common import (
    card,
    data_table,
    empty_state,
    field_error,
    form_alert,
    loading_block,
    page_title,
    status_badge,
)
from smplat.ui.components.layout import admin_page
from smplat.ui.pages.admin._actions import operator_actor
from smplat.ui.registry import NavEntry, page
from smplat.ui.state.auth import AuthState, requires

_FIELDS = ("slug", "title", "description", "primary", "discount", "items", "active")


class BundlesAdminState(AuthState):
    rows: list[dict[str, Any]] = []
    products: list[dict[str, str]] = []
    editing_id: int = 0  # 0: a new bundle
    editing: bool = False
    values: dict[str, str] = {}
    errors: dict[str, str] = {name: "" for name in _FIELDS}
    notice: str = ""
    form_error: str = ""
    form_version: int = 0
    loaded: bool = False

    def _reload(self) -> None:
        with session_scope() as db:
            self.rows = bundles.admin_rows(db)
            self.products = bundles.product_choices(db)
            self.values = bundles.form_values(db, self.editing_id or None)
        self.errors = {name: "" for name in _FIELDS}
        self.form_error = ""
        self.form_version += 1
        self.loaded = True

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def load_bundles(self) -> None:
        self.editing, self.editing_id, self.notice = False, 0, ""
        self._reload()

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def edit(self, bundle_id: int) -> None:
        if not any(row["id"] == bundle_id for row in self.rows):
            return
        self.editing, self.editing_id, self.notice = True, bundle_id, ""
        self._reload()

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def new_bundle(self) -> None:
        self.editing, self.editing_id, self.notice = True, 0, ""
        self._reload()

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def close_editor(self) -> None:
        self.editing = False

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def save(self, form: dict[str, Any]):
        # only the form's own fields are read (Reflex also sends elements by id)
        data = {key: str(form.get(key, "")) for key in _FIELDS}
        try:
            with session_scope() as db:
                saved = bundles.save_bundle(
                    db,
                    operator_actor(self),
                    self.editing_id or None,
                    slug=data["slug"],
                    title=data["title"],
                    description=data["description"],
                    primary=data["primary"],
                    discount=data["discount"],
                    items_text=data["items"],
                    active=data["active"] in ("on", "true", "1"),
                )
                saved_id, saved_title = saved.id, saved.title
        except bundles.BundleInvalid as invalid:
            self.values = data
            self.errors = {name: invalid.errors.get(name, "") for name in _FIELDS}
            self.form_error = invalid.message
            return None
        except PermissionDenied as denied:
            self.form_error = str(denied)
            return None
        except bundles.ServiceError as exc:
            self.form_error = exc.message
            return None
        self.editing_id = saved_id
        self._reload()
        self.notice = f"Saved {saved_title}. Shoppers see it, and its discount applies, from their next page load."
        return None


def _labelled(label: str, name: str, control: rx.Component, hint: str = "") -> rx.Component:
    return rx.vstack(
        rx.el.label(label, html_for=f"bundle-{name}", style={"font_size": "14px", "font_weight": "500"}),
        control,
        rx.cond(
            BundlesAdminState.errors[name] != "",
            field_error(BundlesAdminState.errors[name], f"bundle-{name}"),
            rx.text(hint, size="1", color_scheme="gray") if hint else rx.fragment(),
        ),
        spacing="1",
        width="100%",
        align="start",
    )


def _input(name: str, **props) -> rx.Component:
    return rx.input(
        name=name,
        id=f"bundle-{name}",
        default_value=BundlesAdminState.values[name],
        size="3",
        width="100%",
        color_scheme=rx.cond(BundlesAdminState.errors[name] != "", "red", "gray"),
        **props,
    )


def _editor() -> rx.Component:
    return card(
        rx.vstack(
            rx.hstack(
                rx.heading(rx.cond(BundlesAdminState.editing_id > 0, "Edit bundle", "New bundle"), size="5"),
                rx.spacer(),
                rx.button(
                    "Close",
                    variant="ghost",
                    color_scheme="gray",
                    on_click=BundlesAdminState.close_editor,
                    type="button",
                ),
                width="100%",
                align="center",
            ),
            form_alert(BundlesAdminState.form_error, alert_id="bundle-form-error"),
            rx.form(
                rx.vstack(
                    _labelled("Title", "title", _input("title", placeholder="Instagram starter kit")),
                    _labelled(
                        "Address",
                        "slug",
                        _input("slug", placeholder="instagram-starter-kit"),
                        "Lowercase letters, digits and dashes.",
                    ),
                    _labelled(
                        "Description",
                        "description",
                        rx.text_area(
                            name="description",
                            id="bundle-description",
                            default_value=BundlesAdminState.values["description"],
                            rows="2",
                            width="100%",
                        ),
                    ),
                    _labelled(
                        "Primary product",
                        "primary",
                        rx.el.select(
                            rx.el.option("Choose a product…", value=""),
                            rx.foreach(
                                BundlesAdminState.products,
                                lambda p: rx.el.option(p["title"], value=p["slug"]),
                            ),
                            name="primary",
                            id="bundle-primary",
                            default_value=BundlesAdminState.values["primary"],
                            style={
                                "height": "40px",
                                "width": "100%",
                                "border": "1px solid var(--gray-a7)",
                                "border_radius": "8px",
                                "padding": "0 8px",
                                "background": "var(--color-panel-solid)",
                            },
                        ),
                        "Bought with every extra, it unlocks the discount; it is never discounted itself.",
                    ),
                    _labelled(
                        "Discount on the extras (%)",
                        "discount",
                        _input("discount", placeholder="10", inputmode="decimal"),
                        "Taken off each extra's price per package, rounded half up to the cent.",
                    ),
                    _labelled(
                        "Extras",
                        "items",
                        rx.text_area(
                            name="items",
                            id="bundle-items",
                            default_value=BundlesAdminState.values["items"],
                            rows="4",
                            width="100%",
                            placeholder="instagram-likes popular\ninstagram-story-views popular",
                            style={
                                "font_family": "ui-monospace, SFMono-Regular, Menlo, monospace",
                                "font_size": "13px",
                            },
                        ),
                        "One per line: the product's address and the preset the bundle adds.",
                    ),
                    rx.el.label(
                        rx.el.input(
                            type="checkbox",
                            name="active",
                            id="bundle-active",
                            default_checked=BundlesAdminState.values["active"] == "on",
                        ),
                        " Live on the storefront",
                        style={"font_size": "14px", "display": "flex", "gap": "6px", "align_items": "center"},
                    ),
                    rx.button(rx.icon("save", size=16), "Save bundle", type="submit", size="3", id="bundle-save"),
                    spacing="4",
                    width="100%",
                ),
                on_submit=BundlesAdminState.save,
                key=BundlesAdminState.form_version.to(str),
                width="100%",
                id="bundle-form",
            ),
            rx.vstack(
                rx.text("Products and their presets", size="2", weight="medium"),
                rx.foreach(
                    BundlesAdminState.products,
                    lambda p: rx.text(
                        rx.code(p["slug"]), " ", p["title"], " · presets: ", p["presets"], size="1", color_scheme="gray"
                    ),
                ),
                spacing="1",
                width="100%",
                align="start",
                id="bundle-product-help",
            ),
            spacing="3",
            width="100%",
            align="start",
        ),
        width="100%",
        id="bundle-editor",
    )


@page(
    route=routes.ADMIN_BUNDLES,
    title="Bundles",
    guard=Permission.EDIT_CATALOG,
    on_load=BundlesAdminState.load_bundles,
    nav=NavEntry(group="Catalog", label="Bundles", icon="package-plus", order=7),
)
def admin_bundles_page() -> rx.Component:
    table = data_table(
        ["Bundle", "Primary product", "Extras (preset)", "Discount", "Status", ""],
        BundlesAdminState.rows,
        lambda b: [
            rx.table.row_header_cell(
                rx.vstack(
                    rx.text(b["title"], weight="medium"),
                    rx.text(b["slug"], size="1", color_scheme="gray"),
                    spacing="0",
                )
            ),
            rx.table.cell(b["primary"]),
            rx.table.cell(b["items"]),
            rx.table.cell(b["discount"]),
            rx.table.cell(status_badge(b["status"])),
            rx.table.cell(
                rx.button(
                    "Edit",
                    size="1",
                    variant="soft",
                    on_click=BundlesAdminState.edit(b["id"]),
                    id="edit-bundle-" + b["slug"].to(str),
                )
            ),
        ],
        "admin-bundles-table",
    )
    return admin_page(
        page_title(
            "Bundles",
            "Products sold together with a discount on the extras. The cart applies it when every item is in it.",
            rx.button(rx.icon("plus", size=16), "New bundle", on_click=BundlesAdminState.new_bundle, id="new-bundle"),
        ),
        form_alert(BundlesAdminState.notice, color="green", icon="circle-check", alert_id="bundle-notice"),
        rx.cond(
            BundlesAdminState.loaded,
            rx.vstack(
                rx.cond(
                    BundlesAdminState.rows.length() > 0,
                    table,
                    empty_state("package-plus", "No bundles yet", "Create one to sell products together."),
                ),
                rx.cond(BundlesAdminState.editing, _editor()),
                spacing="4",
                width="100%",
            ),
            loading_block(),
        ),
    )
