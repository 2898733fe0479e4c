"""Admin → product editor → Media: upload several pictures at once, order them, choose the
primary, write label, alt text and usage tags. Every rule lives in `services/media.py`; this
page sends the product version it loaded with each save (a stale save is refused there)."""

from __future__ import annotations

from typing import Any

import reflex as rx

from smplat.db import session_scope
from smplat.models.catalog import Product
from smplat.services import media
from smplat.services.errors import ServiceError
from smplat.services.permissions import Permission
from smplat.settings import get_settings
from smplat.ui import routes
from smplat.ui.components.common import card, empty_state, form_alert, loading_block, page_title
from smplat.ui.components.layout import admin_page
from smplat.ui.components.product_editor import editor_tabs
from smplat.ui.pages.admin._actions import editor_draft_redirect, operator_actor
from smplat.ui.registry import page
from smplat.ui.state.auth import AuthState, requires

UPLOAD_ID = "media-upload"
ACCEPT = {"image/png": [".png"], "image/jpeg": [".jpg", ".jpeg"], "image/webp": [".webp"]}
USAGES = [(u, media.USAGE_LABELS[u]) for u in media.USAGE_LABELS]


class MediaEditorState(AuthState):
    product_id: int = 0
    product_title: str = ""
    version: int = 0
    rows: list[dict[str, Any]] = []
    notice: str = ""
    error: str = ""
    uploading: bool = False
    progress: int = 0
    form_version: int = 0
    loaded: bool = False
    found: bool = False
    limits: str = ""

    def _requested_id(self) -> int:
        raw = str(self.router.page.params.get("product_id", ""))
        return int(raw) if raw.isdigit() else 0

    def _reload(self) -> None:
        with session_scope() as db:
            product = db.get(Product, self.product_id) if self.product_id else None
            self.found = product is not None
            self.product_title = product.title if product else ""
            self.version = int(product.version) if product else 0
            self.rows = media.gallery_rows(db, self.product_id) if product else []
        self.form_version += 1
        self.loaded = True

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def load_media(self):
        if (moved := editor_draft_redirect(self, "media")) is not None:
            return moved
        self.product_id = self._requested_id()
        self.notice = self.error = ""
        self.uploading, self.progress = False, 0
        settings = get_settings()
        self.limits = (
            f"PNG, JPEG or WebP · up to {settings.media_max_upload_bytes // (1024 * 1024)} MB and "
            f"{settings.media_max_pixels / 1_000_000:.0f} megapixels each · up to {media.MAX_FILES_PER_UPLOAD} at once"
        )
        self._reload()

    def _done(self, notice: str) -> None:
        self.error, self.notice = "", notice
        self._reload()

    def _failed(self, exc: ServiceError) -> None:
        self.notice, self.error = "", exc.message

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def upload_progress(self, progress: dict[str, Any]) -> None:
        share = float(progress.get("progress", 0) or 0)
        # the bar shows while bytes travel; the checks that follow take a moment and end in a notice
        self.uploading = share < 1
        self.progress = round(share * 100)

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    async def handle_upload(self, files: list[rx.UploadFile]):
        self.uploading = False
        if not files:
            self._failed(ServiceError("Choose at least one image to upload."))
            return None
        batch = [(f.name or f.filename or "image", await f.read()) for f in files]
        try:
            with session_scope() as db:
                _, created = media.upload(db, operator_actor(self), self.product_id, self.version, batch)
        except ServiceError as exc:
            self._failed(exc)
            return rx.clear_selected_files(UPLOAD_ID)
        self.progress = 100
        self._done(f"Uploaded {len(created)} image{'s' if len(created) != 1 else ''}. Add alt text to each.")
        return rx.clear_selected_files(UPLOAD_ID)

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def save_details(self, form: dict[str, Any]) -> None:
        raw_id = str(form.get("media_id", ""))
        if not raw_id.isdigit():
            return
        tags = [u for u, _ in USAGES if str(form.get(f"usage_{u}", "")) in ("on", "true", "1")]
        try:
            with session_scope() as db:
                media.update_details(
                    db,
                    operator_actor(self),
                    self.product_id,
                    self.version,
                    int(raw_id),
                    label=str(form.get("label", "")),
                    alt_text=str(form.get("alt_text", "")),
                    usage_tags=tags,
                )
        except ServiceError as exc:
            self._failed(exc)
            return
        self._done("Saved the image details.")

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def make_primary(self, media_id: int) -> None:
        try:
            with session_scope() as db:
                media.set_primary(db, operator_actor(self), self.product_id, self.version, int(media_id))
        except ServiceError as exc:
            self._failed(exc)
            return
        self._done("Primary image chosen: cards and link previews show it.")

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def move(self, media_id: int, step: int) -> None:
        try:
            with session_scope() as db:
                media.move(db, operator_actor(self), self.product_id, self.version, int(media_id), int(step))
        except ServiceError as exc:
            self._failed(exc)
            return
        self._done("Order saved.")

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def remove(self, media_id: int) -> None:
        try:
            with session_scope() as db:
                media.remove(db, operator_actor(self), self.product_id, self.version, int(media_id))
        except ServiceError as exc:
            self._failed(exc)
            return
        self._done("Image removed from the gallery.")


def _uploader() -> rx.Component:
    selected = rx.selected_files(UPLOAD_ID)
    return card(
        rx.vstack(
            rx.upload(
                rx.vstack(
                    rx.icon("image-up", size=28, color="var(--violet-11)"),
                    rx.text("Drop images here or click to choose", weight="medium"),
                    rx.text(MediaEditorState.limits, size="1", color_scheme="gray"),
                    align="center",
                    spacing="1",
                ),
                id=UPLOAD_ID,
                multiple=True,
                accept=ACCEPT,
                max_files=media.MAX_FILES_PER_UPLOAD,
                border="1px dashed var(--violet-a7)",
                border_radius="12px",
                padding="1.5rem",
                width="100%",
                cursor="pointer",
            ),
            rx.cond(
                selected.length() > 0,
                rx.hstack(
                    rx.foreach(selected, lambda name: rx.badge(rx.icon("file-image", size=12), name, variant="soft")),
                    wrap="wrap",
                    spacing="2",
                    id="media-selected",
                ),
            ),
            rx.hstack(
                rx.button(
                    rx.icon("upload", size=16),
                    "Upload",
                    on_click=MediaEditorState.handle_upload(
                        rx.upload_files(upload_id=UPLOAD_ID, on_upload_progress=MediaEditorState.upload_progress)
                    ),
                    disabled=selected.length() == 0,
                    id="media-upload-button",
                ),
                rx.cond(
                    MediaEditorState.uploading,
                    rx.hstack(
                        rx.progress(value=MediaEditorState.progress, width="200px", id="media-upload-progress"),
                        rx.text(MediaEditorState.progress.to(str) + " %", size="1", color_scheme="gray"),
                        align="center",
                        spacing="2",
                    ),
                ),
                align="center",
                spacing="3",
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def _usage_box(row: rx.Var, usage: str, label: str) -> rx.Component:
    return rx.el.label(
        rx.el.input(
            type="checkbox",
            name=f"usage_{usage}",
            value="on",
            id=f"media-{usage}-" + row["id"].to(str),
            default_checked=row["usage_tags"].to(list[str]).contains(usage),
        ),
        " " + label,
        style={"font_size": "13px", "margin_right": "0.75rem"},
    )


def _media_card(row: rx.Var) -> rx.Component:
    mid = row["id"].to(str)
    return card(
        rx.vstack(
            rx.box(
                rx.image(
                    src=row["card"],
                    alt=row["alt_text"],
                    width="100%",
                    aspect_ratio="4 / 3",
                    object_fit="contain",
                    border_radius="10px",
                    background="var(--gray-3)",
                ),
                rx.cond(
                    row["is_primary"].to(bool),
                    rx.badge(
                        rx.icon("star", size=12),
                        "Primary",
                        color_scheme="violet",
                        variant="solid",
                        position="absolute",
                        top="8px",
                        left="8px",
                        id="media-primary-badge-" + mid,
                    ),
                ),
                position="relative",
                width="100%",
            ),
            rx.hstack(
                rx.text("#" + row["position"].to(str), weight="bold", size="2"),
                rx.text(row["size"], size="1", color_scheme="gray"),
                rx.text(row["bytes"], size="1", color_scheme="gray"),
                rx.spacer(),
                rx.icon_button(
                    rx.icon("arrow-left", size=14),
                    size="1",
                    variant="soft",
                    color_scheme="gray",
                    disabled=row["is_first"].to(bool),
                    on_click=MediaEditorState.move(row["id"].to(int), -1),
                    aria_label="Move earlier",
                    id="media-earlier-" + mid,
                ),
                rx.icon_button(
                    rx.icon("arrow-right", size=14),
                    size="1",
                    variant="soft",
                    color_scheme="gray",
                    disabled=row["is_last"].to(bool),
                    on_click=MediaEditorState.move(row["id"].to(int), 1),
                    aria_label="Move later",
                    id="media-later-" + mid,
                ),
                width="100%",
                align="center",
                spacing="2",
            ),
            rx.form(
                rx.vstack(
                    rx.el.input(type="hidden", name="media_id", value=mid),
                    rx.el.label("Label", html_for="media-label-" + mid, style={"font_size": "13px"}),
                    rx.input(name="label", id="media-label-" + mid, default_value=row["label"], width="100%", size="2"),
                    rx.el.label("Alt text", html_for="media-alt-" + mid, style={"font_size": "13px"}),
                    rx.input(
                        name="alt_text",
                        id="media-alt-" + mid,
                        default_value=row["alt_text"],
                        placeholder="What the picture shows, for screen readers",
                        width="100%",
                        size="2",
                        color_scheme=rx.cond(row["alt_text"] == "", "amber", "gray"),
                    ),
                    rx.cond(
                        row["alt_text"] == "",
                        rx.text("Needed before publishing.", size="1", color_scheme="amber"),
                    ),
                    rx.hstack(*[_usage_box(row, u, label) for u, label in USAGES], wrap="wrap", spacing="0"),
                    rx.hstack(
                        rx.button("Save", type="submit", size="2", id="media-save-" + mid),
                        rx.cond(
                            ~row["is_primary"].to(bool),
                            rx.button(
                                rx.icon("star", size=14),
                                "Make primary",
                                type="button",
                                size="2",
                                variant="soft",
                                on_click=MediaEditorState.make_primary(row["id"].to(int)),
                                id="media-primary-" + mid,
                            ),
                        ),
                        rx.spacer(),
                        rx.button(
                            rx.icon("trash-2", size=14),
                            type="button",
                            size="2",
                            variant="ghost",
                            color_scheme="red",
                            on_click=MediaEditorState.remove(row["id"].to(int)),
                            aria_label="Remove image",
                            id="media-remove-" + mid,
                        ),
                        width="100%",
                        align="center",
                        spacing="2",
                    ),
                    spacing="2",
                    width="100%",
                    align="start",
                ),
                on_submit=MediaEditorState.save_details,
                key=mid + "-" + MediaEditorState.form_version.to(str),
                width="100%",
                id="media-form-" + mid,
            ),
            spacing="3",
            width="100%",
        ),
        id="media-card-" + mid,
    )


def _gallery() -> rx.Component:
    return rx.cond(
        MediaEditorState.rows.length() > 0,
        rx.grid(
            rx.foreach(MediaEditorState.rows, _media_card),
            columns=rx.breakpoints(initial="1", sm="2", lg="3"),
            spacing="4",
            width="100%",
            id="media-gallery-admin",
        ),
        empty_state(
            "images",
            "No pictures yet",
            "Upload the card artwork first: the first picture becomes the primary one.",
            id="media-empty",
        ),
    )


@page(
    route=routes.ADMIN_PRODUCT_EDITOR_MEDIA,
    title="Product media",
    guard=Permission.EDIT_CATALOG,
    on_load=MediaEditorState.load_media,
)
def product_media_page() -> rx.Component:
    return admin_page(
        editor_tabs(MediaEditorState.product_id, active="media"),
        rx.cond(
            MediaEditorState.loaded,
            rx.cond(
                MediaEditorState.found,
                rx.vstack(
                    page_title(
                        "Media · " + MediaEditorState.product_title,
                        "Cards show the primary picture, padded to fit, never cropped. Every picture "
                        "needs alt text before the product can be published.",
                    ),
                    form_alert(MediaEditorState.error, alert_id="media-error"),
                    form_alert(MediaEditorState.notice, color="green", icon="circle-check", alert_id="media-notice"),
                    _uploader(),
                    _gallery(),
                    spacing="4",
                    width="100%",
                ),
                empty_state("search-x", "No such product", "It may have been deleted. Go back to the catalog."),
            ),
            loading_block(),
        ),
    )
