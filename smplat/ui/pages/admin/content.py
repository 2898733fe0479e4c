"""Admin → Content: the home page blocks and legal pages, edited in place (staff only).

Saving validates through `services.content.save_block`; a broken rule is shown next to its
field and nothing is stored. Visitors see a saved block on their next page load.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from smplat.db import session_scope
from smplat.services import content
from smplat.services.permissions import Permission
from smplat.ui import routes
from smplat.ui.components.common import card, field_error, form_alert, loading_block, page_title
from smplat.ui.components.layout import admin_page
from smplat.ui.pages.admin._actions import operator_actor
from smplat.ui.registry import NavEntry, page
from smplat.ui.state.auth import AuthState, requires

_FIELDS = ("title", "subtitle", "body", "items")


class ContentAdminState(AuthState):
    blocks: list[dict[str, str]] = []
    selected: str = ""
    spec: dict[str, Any] = {}
    values: dict[str, str] = {}
    errors: dict[str, str] = {name: "" for name in _FIELDS}
    notice: str = ""
    form_version: int = 0
    loaded: bool = False

    def _refresh(self, key: str) -> None:
        spec = content.get_spec(key)
        with session_scope() as db:
            views = content.get_blocks(db, [s.key for s in content.BLOCKS])
        self.blocks = [
            {
                "key": s.key,
                "label": s.label,
                "group": s.group,
                "status": ("Needs your details" if s.needs_owner_details else "Default text")
                if views[s.key].is_default
                else "Edited",
                "updated": f"{views[s.key].updated_at:%d %b %Y %H:%M} UTC" if views[s.key].updated_at else "",
            }
            for s in content.BLOCKS
        ]
        view = views[key]
        self.selected = key
        self.spec = {
            "label": spec.label,
            "help": spec.help,
            "public_path": spec.public_path,
            "group": spec.group,
            "subtitle_label": spec.subtitle_label,
            "body_label": spec.body_label,
            "body_markdown": spec.body_markdown,
            "items_label": spec.items_label,
            "item_format": spec.item_format,
            "has_items": bool(spec.columns),
            "items_range": f"{spec.min_items}–{spec.max_items} lines" if spec.columns else "",
            "is_default": view.is_default,
        }
        self.values = {
            "title": view.title,
            "subtitle": view.subtitle,
            "body": view.body,
            "items": content.items_to_text(spec, view.items),
        }
        self.errors = {name: "" for name in _FIELDS}
        self.form_version += 1
        self.loaded = True

    @rx.event
    @requires(Permission.EDIT_CONTENT)
    def load_content(self) -> None:
        requested = self.router.url.query_parameters.get("block", "")
        self.notice = ""
        self._refresh(requested if requested in content.SPECS else content.BLOCKS[0].key)

    @rx.event
    @requires(Permission.EDIT_CONTENT)
    def select_block(self, key: str) -> None:
        if key in content.SPECS:
            self.notice = ""
            self._refresh(key)

    @rx.event
    @requires(Permission.EDIT_CONTENT)
    def save(self, form: dict[str, Any]):
        key = self.selected
        if key not in content.SPECS:
            return rx.toast.error("Choose a block to edit first.")
        try:
            with session_scope() as db:
                content.save_block(
                    db,
                    key,
                    title=str(form.get("title", "")),
                    subtitle=str(form.get("subtitle", "")),
                    body=str(form.get("body", "")),
                    items_text=str(form.get("items", "")),
                    actor=operator_actor(self),
                )
        except content.ContentInvalid as invalid:
            self.notice = ""
            self.errors = {name: invalid.errors.get(name, "") for name in _FIELDS}
            return None
        self._refresh(key)
        self.notice = f"Saved. Visitors see the new {content.get_spec(key).label.lower()} from their next page load."
        return None

    @rx.event
    @requires(Permission.EDIT_CONTENT)
    def reset_to_default(self):
        key = self.selected
        if key not in content.SPECS:
            return None
        with session_scope() as db:
            removed = content.reset_block(db, key, actor=operator_actor(self))
        self._refresh(key)
        self.notice = "Back to the default text." if removed else "This block already shows the default text."
        return None


def _status_badge(status: rx.Var) -> rx.Component:
    return rx.badge(
        status,
        variant="soft",
        radius="full",
        color_scheme=rx.match(status, ("Edited", "green"), ("Needs your details", "amber"), "gray"),
    )


def _block_list() -> rx.Component:
    return rx.vstack(
        rx.foreach(
            ContentAdminState.blocks,
            lambda b: rx.box(
                rx.hstack(
                    rx.vstack(
                        rx.text(b["label"], size="2", weight="medium"),
                        rx.text(b["group"], size="1", color_scheme="gray"),
                        spacing="0",
                        align="start",
                    ),
                    rx.spacer(),
                    _status_badge(b["status"]),
                    align="center",
                    width="100%",
                ),
                on_click=ContentAdminState.select_block(b["key"]),
                id="content-block-" + b["key"].to(str).replace(".", "-"),
                padding="0.6rem 0.75rem",
                border_radius="12px",
                cursor="pointer",
                width="100%",
                background=rx.cond(ContentAdminState.selected == b["key"], "var(--violet-a3)", "transparent"),
                _hover={"background": "var(--gray-a3)"},
                role="button",
            ),
        ),
        spacing="1",
        width="100%",
        id="content-blocks",
    )


def _labelled(label: rx.Var | str, name: str, control: rx.Component, hint: rx.Component | None = None) -> rx.Component:
    return rx.vstack(
        rx.el.label(label, html_for=f"content-{name}", style={"font_size": "14px", "font_weight": "500"}),
        control,
        rx.cond(
            ContentAdminState.errors[name] != "",
            field_error(ContentAdminState.errors[name], f"content-{name}"),
            hint or rx.fragment(),
        ),
        spacing="1",
        width="100%",
        align="start",
    )


def _input_color(name: str) -> rx.Var:
    return rx.cond(ContentAdminState.errors[name] != "", "red", "gray")


def _editor() -> rx.Component:
    spec = ContentAdminState.spec
    return card(
        rx.vstack(
            rx.hstack(
                rx.heading(spec["label"].to(str), size="5"),
                rx.spacer(),
                rx.link(
                    rx.button(rx.icon("external-link", size=14), "View on the site", variant="ghost"),
                    href=spec["public_path"].to(str),
                    is_external=True,
                    id="content-view-live",
                ),
                width="100%",
                align="center",
                wrap="wrap",
            ),
            rx.text(spec["help"].to(str), size="2", color_scheme="gray", id="content-help"),
            form_alert(ContentAdminState.notice, color="green", icon="circle-check", alert_id="content-notice"),
            rx.form(
                rx.vstack(
                    _labelled(
                        "Title",
                        "title",
                        rx.input(
                            name="title",
                            id="content-title",
                            default_value=ContentAdminState.values["title"],
                            size="3",
                            width="100%",
                            color_scheme=_input_color("title"),
                        ),
                    ),
                    rx.cond(
                        spec["subtitle_label"].to(str) != "",
                        _labelled(
                            spec["subtitle_label"].to(str),
                            "subtitle",
                            rx.input(
                                name="subtitle",
                                id="content-subtitle",
                                size="3",
                                width="100%",
                                default_value=ContentAdminState.values["subtitle"],
                                color_scheme=_input_color("subtitle"),
                            ),
                        ),
                    ),
                    rx.cond(
                        spec["body_label"].to(str) != "",
                        _labelled(
                            spec["body_label"].to(str),
                            "body",
                            rx.text_area(
                                name="body",
                                id="content-body",
                                default_value=ContentAdminState.values["body"],
                                rows=rx.cond(spec["body_markdown"].to(bool), "16", "4"),
                                width="100%",
                                color_scheme=_input_color("body"),
                            ),
                            rx.cond(
                                spec["body_markdown"].to(bool),
                                rx.text(
                                    "Markdown: ## for headings, - for lists, **bold**.", size="1", color_scheme="gray"
                                ),
                            ),
                        ),
                    ),
                    rx.cond(
                        spec["has_items"].to(bool),
                        _labelled(
                            spec["items_label"].to(str),
                            "items",
                            rx.text_area(
                                name="items",
                                id="content-items",
                                default_value=ContentAdminState.values["items"],
                                rows="8",
                                width="100%",
                                color_scheme=_input_color("items"),
                                style={
                                    "font_family": "ui-monospace, SFMono-Regular, Menlo, monospace",
                                    "font_size": "13px",
                                },
                            ),
                            rx.text(
                                "One per line: ",
                                rx.code(spec["item_format"].to(str)),
                                " (",
                                spec["items_range"].to(str),
                                ")",
                                size="1",
                                color_scheme="gray",
                                id="content-items-format",
                            ),
                        ),
                    ),
                    rx.hstack(
                        rx.button(rx.icon("save", size=16), "Save", type="submit", size="3", id="content-save"),
                        rx.cond(
                            ~spec["is_default"].to(bool),
                            rx.button(
                                "Reset to default",
                                type="button",
                                variant="soft",
                                color_scheme="gray",
                                size="3",
                                on_click=ContentAdminState.reset_to_default,
                                id="content-reset",
                            ),
                        ),
                        spacing="3",
                        wrap="wrap",
                    ),
                    spacing="4",
                    width="100%",
                ),
                on_submit=ContentAdminState.save,
                key=ContentAdminState.form_version.to(str),
                width="100%",
                id="content-form",
            ),
            spacing="3",
            width="100%",
            align="start",
        ),
        width="100%",
    )


@page(
    route=routes.ADMIN_CONTENT,
    title="Content",
    guard=Permission.EDIT_CONTENT,
    on_load=ContentAdminState.load_content,
    nav=NavEntry(group="Catalog", label="Content", icon="file-pen-line", order=10),
)
def admin_content_page() -> rx.Component:
    return admin_page(
        page_title(
            "Content",
            "The home page and legal pages, as visitors read them. Figures, testimonials and "
            "case studies are yours to publish: state only what is true.",
        ),
        rx.cond(
            ContentAdminState.loaded,
            rx.flex(
                rx.box(
                    card(_block_list(), style={"padding": "0.5rem"}), width=["100%", "100%", "280px"], flex_shrink="0"
                ),
                rx.box(_editor(), flex="1", min_width="0", width="100%"),
                direction=rx.breakpoints(initial="column", md="row"),
                spacing="4",
                width="100%",
                align="start",
            ),
            loading_block(),
        ),
    )
