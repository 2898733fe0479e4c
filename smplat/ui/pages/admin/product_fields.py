"""Product editor, Fields tab: what the customer types in, with a live tester for the rules.

Every rule lives in `services.catalog_fields` (checks on save) and `services.pricing` (the
storefront's validator, which the tester calls): this page only collects the form."""

from __future__ import annotations

from typing import Any

import reflex as rx

from smplat.db import session_scope
from smplat.services import catalog_fields
from smplat.services.errors import ServiceError
from smplat.services.permissions import Permission
from smplat.ui import routes
from smplat.ui.components.common import card, data_table, empty_state
from smplat.ui.components.layout import admin_page
from smplat.ui.pages.admin._actions import editor_draft_redirect, operator_actor
from smplat.ui.pages.admin._editor import editor_frame, labelled, native_select, product_header, product_id_param
from smplat.ui.registry import page
from smplat.ui.state.auth import AuthState, requires

FORM_KEYS = (
    "key",
    "label",
    "field_type",
    "required",
    "placeholder",
    "help_text",
    "default_value",
    "min_value",
    "max_value",
    "regex_pattern",
    "regex_message",
    "choices",
    "sample_values",
    "visibility_match",
    "visibility_text",
)
EMPTY_FORM = {k: "" for k in FORM_KEYS} | {"field_type": "text", "visibility_match": "all"}
TESTED_KEYS = ("key", "label", "field_type", "min_value", "max_value", "regex_pattern", "regex_message", "choices")


def _row(spec: Any) -> dict[str, str]:
    snap = catalog_fields.snapshot(spec)
    limits = (
        " – ".join(x or "…" for x in (snap["min_value"], snap["max_value"]))
        if (snap["min_value"] or snap["max_value"])
        else ""
    )
    return {
        "id": str(spec.id),
        "key": spec.key,
        "label": spec.label,
        "type": catalog_fields.TYPE_LABELS.get(spec.field_type, spec.field_type),
        "required": "required" if spec.required else "optional",
        "rules": "; ".join(
            x
            for x in (
                f"matches {spec.regex_pattern}" if spec.regex_pattern else "",
                f"range {limits}" if limits else "",
                f"{len(spec.choices)} choices" if spec.choices else "",
                f"default {spec.default_value}" if spec.default_value else "",
            )
            if x
        )
        or "—",
        "shown": catalog_fields.conditions_text(spec.visibility_rules).replace("\n", (
            " or " if (spec.visibility_rules or {}).get("match") == "any" else " and "
        )) or "always",
    }  # fmt: skip


def _form(spec: Any) -> dict[str, str]:
    snap = catalog_fields.snapshot(spec)
    return {
        **{k: str(snap.get(k) or "") for k in FORM_KEYS if k in snap},
        "required": "on" if spec.required else "",
        "min_value": snap["min_value"] or "",
        "max_value": snap["max_value"] or "",
        "choices": catalog_fields.choices_text(spec.choices),
        "sample_values": "\n".join(spec.sample_values or []),
        "visibility_match": (spec.visibility_rules or {}).get("match", "all"),
        "visibility_text": catalog_fields.conditions_text(spec.visibility_rules),
    }


class FieldsEditorState(AuthState):
    product: dict[str, str] = {}
    rows: list[dict[str, str]] = []
    refs: dict[str, str] = {}
    form: dict[str, str] = dict(EMPTY_FORM)
    editing_id: str = ""
    form_round: int = 0  # bumped to re-mount the (uncontrolled) inputs with a new form
    errors: dict[str, str] = {}
    error: str = ""
    notice: str = ""
    sample: str = ""
    tester_ok: bool = False
    tester_message: str = ""
    loaded: bool = False

    def _reload(self) -> None:
        pid = product_id_param(self)
        with session_scope() as db:
            head = product_header(db, pid)
            self.product = head or {}
            if head is not None:
                self.rows = [_row(f) for f in catalog_fields.list_fields(db, pid)]
                refs = catalog_fields.references(db, pid)
                self.refs = {k: ", ".join(v) or "none yet" for k, v in refs.items()}
        self.loaded = True

    def _start(self, form: dict[str, str], editing_id: str) -> None:
        self.form, self.editing_id, self.errors = form, editing_id, {}
        self.form_round += 1
        self._run_tester()

    def _run_tester(self) -> None:
        pid = product_id_param(self)
        if not self.sample.strip() or pid is None:
            self.tester_ok, self.tester_message = False, ""
            return
        try:
            with session_scope() as db:
                self.tester_ok, self.tester_message = catalog_fields.try_sample(db, pid, dict(self.form), self.sample)
        except ServiceError as exc:
            self.tester_ok, self.tester_message = False, exc.message

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def load(self):
        if (moved := editor_draft_redirect(self, "fields")) is not None:
            return moved
        self.error, self.notice, self.sample = "", "", ""
        self._reload()
        self._start(dict(EMPTY_FORM), "")

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def new_field(self) -> None:
        self._start(dict(EMPTY_FORM), "")

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def edit(self, field_id: str) -> None:
        pid = product_id_param(self)
        with session_scope() as db:
            spec = next((f for f in catalog_fields.list_fields(db, pid or 0) if str(f.id) == str(field_id)), None)
            if spec is None:
                self.error = "This field no longer exists; the list was reloaded."
                self._reload()
                return
            form = _form(spec)
        self.error, self.notice = "", ""
        self._start(form, str(field_id))

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def set_form_value(self, key: str, value: str) -> None:
        """A rule typed in the form: the tester re-runs with it (nothing is saved)."""
        if key in TESTED_KEYS:
            self.form = {**self.form, key: str(value)[:2000]}
            self._run_tester()

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def set_sample(self, value: str) -> None:
        self.sample = str(value)[:2000]
        self._run_tester()

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def save(self, data: dict[str, Any]):
        form = {k: str(data.get(k, "") or "") for k in FORM_KEYS}
        self.form = form
        pid = product_id_param(self)
        editing = self.editing_id
        try:
            with session_scope() as db:
                spec, _version = catalog_fields.save_field(
                    db,
                    operator_actor(self),
                    pid or 0,
                    int(self.product.get("version", "0") or 0),
                    form,
                    field_id=int(editing) if editing else None,
                )
                done = f"Field “{spec.label}” saved."
        except ServiceError as exc:
            self.errors, self.error, self.notice = dict(exc.errors), exc.message, ""
            if exc.code.value in ("conflict", "not_found"):
                self._reload()
            return None
        self.error, self.notice = "", done
        self._reload()
        self._start(dict(EMPTY_FORM), "")
        return rx.toast.success(done)

    def _row_action(self, action: str, call) -> Any:
        try:
            with session_scope() as db:
                call(db)
        except ServiceError as exc:
            self.error, self.notice = exc.message, ""
            self._reload()
            return None
        self.error, self.notice = "", action
        self._reload()
        return rx.toast.success(action)

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def delete(self, field_id: str):
        version = int(self.product.get("version", "0") or 0)
        pid = product_id_param(self) or 0
        return self._row_action(
            "Field deleted.",
            lambda db: catalog_fields.delete_field(db, operator_actor(self), pid, version, int(field_id)),
        )

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def move(self, field_id: str, direction: int):
        version = int(self.product.get("version", "0") or 0)
        pid = product_id_param(self) or 0
        return self._row_action(
            "Order saved.",
            lambda db: catalog_fields.move_field(db, operator_actor(self), pid, version, int(field_id), int(direction)),
        )


S = FieldsEditorState
TYPE_CHOICES = list(catalog_fields.TYPE_LABELS.items())


def _err(name: str) -> rx.Var:
    return S.errors.get(name, "").to(str)


def _input(name: str, **props) -> rx.Component:
    tested = name in TESTED_KEYS
    extra = {"on_change": lambda v: S.set_form_value(name, v)} if tested else {}
    return rx.input(
        name=name,
        id=f"form-{name}",
        default_value=S.form[name],
        key=f"{name}-" + S.form_round.to_string(),
        width="100%",
        color_scheme=rx.cond(_err(name) != "", "red", "gray"),
        **extra,
        **props,
    )


def _area(name: str, rows: str = "3", **props) -> rx.Component:
    tested = name in TESTED_KEYS
    extra = {"on_change": lambda v: S.set_form_value(name, v)} if tested else {}
    return rx.text_area(
        name=name,
        id=f"form-{name}",
        default_value=S.form[name],
        key=f"{name}-" + S.form_round.to_string(),
        rows=rows,
        width="100%",
        **extra,
        **props,
    )


def _tester() -> rx.Component:
    return rx.box(
        rx.vstack(
            rx.hstack(
                rx.icon("flask-conical", size=16), rx.text("Try a value", weight="medium", size="2"), spacing="2"
            ),
            rx.text(
                "Type what a customer might type: it is checked against the type, limits, choices and pattern "
                "above exactly as the storefront will check it.",
                size="1",
                color_scheme="gray",
            ),
            rx.input(
                placeholder="e.g. CxYz123AbCd",
                default_value=S.sample,
                on_change=S.set_sample.debounce(250),  # type: ignore[attr-defined]
                width="100%",
                class_name="regex-tester-input",
            ),
            rx.cond(
                S.tester_message != "",
                rx.callout(
                    S.tester_message,
                    icon=rx.cond(S.tester_ok, "circle-check", "circle-x"),
                    color_scheme=rx.cond(S.tester_ok, "green", "red"),
                    size="1",
                    width="100%",
                    id="regex-tester-result",
                ),
            ),
            spacing="2",
            width="100%",
        ),
        id="regex-tester",
        padding="12px",
        border="1px dashed var(--gray-a7)",
        border_radius="8px",
        width="100%",
    )


def _field_form() -> rx.Component:
    return card(
        rx.form(
            rx.vstack(
                rx.heading(rx.cond(S.editing_id != "", "Edit field", "Add a field"), size="4"),
                rx.grid(
                    labelled("Label customers read", _input("label", placeholder="Post link"), _err("label")),
                    labelled(
                        "Key (internal)",
                        _input("key", placeholder="post_link"),
                        _err("key"),
                        "lower-case, e.g. post_link",
                    ),
                    labelled(
                        "Type",
                        native_select(
                            "field_type",
                            TYPE_CHOICES,
                            S.form["field_type"],
                            "type-" + S.form_round.to_string(),
                            on_change=lambda v: S.set_form_value("field_type", v),
                        ),
                        _err("field_type"),
                    ),
                    labelled(
                        "Required",
                        rx.el.input(
                            type="checkbox",
                            name="required",
                            id="form-required",
                            default_checked=S.form["required"] == "on",
                            key="required-" + S.form_round.to_string(),
                        ),
                        hint="when the field is shown",
                    ),
                    labelled("Placeholder", _input("placeholder"), _err("placeholder")),
                    labelled("Help text", _input("help_text"), _err("help_text")),
                    labelled("Default value", _input("default_value"), _err("default_value")),
                    labelled(
                        "Minimum / maximum",
                        rx.hstack(
                            _input("min_value", placeholder="min"),
                            _input("max_value", placeholder="max"),
                            spacing="2",
                            width="100%",
                        ),
                        rx.cond(_err("min_value") != "", _err("min_value"), _err("max_value")),
                        "number and whole-number fields",
                    ),
                    columns=rx.breakpoints(initial="1", md="2"),
                    spacing="4",
                    width="100%",
                ),
                rx.grid(
                    labelled(
                        "Pattern (regular expression, whole value)",
                        _input("regex_pattern", placeholder="[A-Za-z0-9_-]{11}", font_family="monospace"),
                        _err("regex_pattern"),
                    ),
                    labelled("Message when it does not match", _input("regex_message"), _err("regex_message")),
                    columns=rx.breakpoints(initial="1", md="2"),
                    spacing="4",
                    width="100%",
                ),
                _tester(),
                rx.grid(
                    labelled(
                        "Choices (choice type)",
                        _area("choices", placeholder="positive | Positive\nemoji | Emoji only"),
                        _err("choices"),
                        "one per line: value | label",
                    ),
                    labelled(
                        "Sample values",
                        _area("sample_values"),
                        _err("sample_values"),
                        "one per line; each must pass the rules",
                    ),
                    columns=rx.breakpoints(initial="1", md="2"),
                    spacing="4",
                    width="100%",
                ),
                labelled(
                    "Show this field when",
                    rx.vstack(
                        native_select(
                            "visibility_match",
                            [("all", "all of these hold"), ("any", "any of these holds")],
                            S.form["visibility_match"],
                            "match-" + S.form_round.to_string(),
                        ),
                        _area(
                            "visibility_text",
                            placeholder="option: package:p1000\nadd_on: priority\nchannel: storefront, api",
                        ),
                        spacing="2",
                        width="100%",
                    ),
                    _err("visibility_rules"),
                    "empty: always. One per line. Options: "
                    + S.refs.get("option", "").to(str)
                    + " · add-ons: "
                    + S.refs.get("add_on", "").to(str)
                    + " · plans: "
                    + S.refs.get("plan", "").to(str)
                    + " · channels: "
                    + S.refs.get("channel", "").to(str),
                ),
                rx.hstack(
                    rx.button("Save field", type="submit", id="save-field", color_scheme="violet"),
                    rx.cond(
                        S.editing_id != "",
                        rx.button("Cancel", type="button", variant="soft", color_scheme="gray", on_click=S.new_field),
                    ),
                    spacing="3",
                ),
                spacing="4",
                width="100%",
                align="start",
            ),
            on_submit=S.save,
            width="100%",
        ),
        width="100%",
    )


def _row_actions(row: rx.Var) -> rx.Component:
    fid = row["id"].to(str)
    return rx.hstack(
        rx.icon_button(
            rx.icon("arrow-up", size=14), size="1", variant="soft", on_click=S.move(fid, -1), aria_label="Move up"
        ),
        rx.icon_button(
            rx.icon("arrow-down", size=14), size="1", variant="soft", on_click=S.move(fid, 1), aria_label="Move down"
        ),
        rx.button("Edit", size="1", variant="soft", on_click=S.edit(fid), id="edit-field-" + row["key"].to(str)),
        rx.button("Delete", size="1", variant="outline", color_scheme="red", on_click=S.delete(fid)),
        spacing="2",
    )


@page(
    route=routes.ADMIN_PRODUCT_EDITOR_FIELDS,
    title="Product fields",
    guard=Permission.EDIT_CATALOG,
    on_load=FieldsEditorState.load,
)
def admin_product_fields_page() -> rx.Component:
    table = rx.cond(
        S.rows.length() > 0,
        data_table(
            ["Label", "Key", "Type", "", "Rules", "Shown", ""],
            S.rows,
            lambda r: [
                rx.table.row_header_cell(r["label"]),
                rx.table.cell(rx.code(r["key"])),
                rx.table.cell(r["type"]),
                rx.table.cell(rx.badge(r["required"], variant="soft", color_scheme="gray")),
                rx.table.cell(rx.text(r["rules"], size="1")),
                rx.table.cell(rx.text(r["shown"], size="1")),
                rx.table.cell(_row_actions(r)),
            ],
            "fields-table",
        ),
        empty_state(
            "text-cursor-input",
            "No fields yet",
            "Customers are asked for nothing. Add a field below.",
            id="fields-empty",
        ),
    )
    body = rx.vstack(table, _field_form(), spacing="4", width="100%", align="start")
    return admin_page(editor_frame(S, "fields", "What customers type in, and the rules the shop holds them to.", body))
