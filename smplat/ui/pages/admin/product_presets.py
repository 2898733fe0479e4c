"""Product editor, Presets & calculator tab: one-click configurations and the per-day calculator.

The rules are in `services.catalog_presets`: a preset is priced by the pricing service on
save (refused with its errors when it is not a valid configuration); a calculator expression
goes through the safe evaluator (refused with its message). This page collects the form and
shows the calculator's sample output as it is typed."""

from __future__ import annotations

from typing import Any

import reflex as rx

from smplat.db import session_scope
from smplat.models.catalog import OptionSelection
from smplat.services import catalog_presets
from smplat.services.errors import ServiceError
from smplat.services.money import format_money
from smplat.services.permissions import Permission
from smplat.ui import routes
from smplat.ui.components.common import card, data_table, empty_state
from smplat.ui.components.layout import admin_page
from smplat.ui.pages.admin._actions import editor_draft_redirect, operator_actor
from smplat.ui.pages.admin._editor import SELECT_STYLE, editor_frame, labelled, product_header, product_id_param
from smplat.ui.registry import page
from smplat.ui.state.auth import AuthState, requires

PLAIN_KEYS = ("key", "label", "description", "badge", "image_url", "is_featured")
EMPTY_FORM = {k: "" for k in PLAIN_KEYS}


def _selection_from_form(data: dict[str, Any], groups: list[dict[str, Any]], add_ons, fields, plans) -> dict[str, Any]:
    """Read only the keys this product's form has (never arbitrary form keys)."""
    options: dict[str, Any] = {}
    for group in groups:
        if group["multi"]:
            chosen = [o["key"] for o in group["options"] if data.get(f"opt:{group['key']}:{o['key']}")]
            if chosen:
                options[group["key"]] = chosen
        elif data.get(f"opt:{group['key']}"):
            options[group["key"]] = str(data[f"opt:{group['key']}"])
    return {
        "options": options,
        "add_ons": [a["key"] for a in add_ons if data.get(f"addon:{a['key']}")],
        "plan": str(data.get("plan") or "") or None if plans else None,
        "fields": {f["key"]: str(data.get(f"fv:{f['key']}", "") or "") for f in fields},
    }


class PresetsEditorState(AuthState):
    product: dict[str, str] = {}
    rows: list[dict[str, str]] = []
    groups: list[dict[str, Any]] = []
    add_ons: list[dict[str, str]] = []
    plans: list[dict[str, str]] = []
    field_specs: list[dict[str, str]] = []
    packages: list[dict[str, str]] = []  # options a calculator can sit on: id, label
    form: dict[str, str] = dict(EMPTY_FORM)
    checked: list[str] = []  # "group:option" and "addon:key" ticked in the form
    editing_id: str = ""
    form_round: int = 0
    errors: dict[str, str] = {}
    error: str = ""
    notice: str = ""
    loaded: bool = False
    # calculator
    calc_option: str = ""
    calc_expression: str = ""
    calc_inputs: str = ""
    calc_output: str = ""
    calc_error: str = ""
    calc_round: int = 0
    _calculators: dict[str, dict[str, Any]] = {}

    def _reload(self) -> None:
        pid = product_id_param(self)
        with session_scope() as db:
            head = product_header(db, pid)
            self.product = head or {}
            if head is None:
                self.loaded = True
                return
            detail = catalog_presets.editor_detail(db, pid)
            currency = detail.product.currency
            self.groups = [
                {
                    "key": g.key,
                    "name": g.name,
                    "multi": g.selection == OptionSelection.MULTI.value,
                    "required": g.required,
                    "options": [{"key": o.key, "label": o.label, "ref": f"{g.key}:{o.key}"} for o in opts],
                }
                for g, opts in detail.groups
            ]
            self.add_ons = [{"key": a.key, "label": a.label} for a in detail.add_ons]
            self.plans = [{"key": p.key, "name": p.name} for p in detail.plans]
            self.field_specs = [{"key": f.key, "label": f.label, "placeholder": f.placeholder} for f in detail.fields]
            self.packages = [
                {"id": str(o.id), "label": f"{g.name}: {o.label}"}
                for g, opts in detail.groups
                for o in opts
                if o.quantity
            ]
            self._calculators = {
                str(o.id): dict((o.blueprint or {}).get("calculator") or {}) for g, opts in detail.groups for o in opts
            }
            labels = {f"{g.key}:{o.key}": o.label for g, opts in detail.groups for o in opts}
            self.rows = [
                {
                    "id": str(p.id),
                    "key": p.key,
                    "label": p.label,
                    "badge": p.badge,
                    "image": p.image_url,
                    "featured": "featured" if p.is_featured else "",
                    "choices": " · ".join(
                        [
                            labels.get(f"{g}:{k}", k)
                            for g, keys in (p.selection.get("options") or {}).items()
                            for k in (keys if isinstance(keys, list) else [keys])
                        ]
                        + [f"+ {a}" for a in p.selection.get("add_ons") or []]
                        + ([f"plan {p.selection['plan']}"] if p.selection.get("plan") else [])
                        + [f"{k} = {v}" for k, v in (p.selection.get("fields") or {}).items()]
                    ),
                    "price": format_money(p.price_hint_minor, currency) if p.price_hint_minor is not None else "—",
                }
                for p in detail.presets
            ]
        self.loaded = True

    def _start(self, form: dict[str, str], checked: list[str], editing_id: str) -> None:
        self.form, self.checked, self.editing_id, self.errors = form, checked, editing_id, {}
        self.form_round += 1

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def load(self):
        if (moved := editor_draft_redirect(self, "presets")) is not None:
            return moved
        self.error, self.notice = "", ""
        self._reload()
        self._start(dict(EMPTY_FORM), [], "")
        first = self.packages[0]["id"] if self.packages else ""
        self._pick_calculator(first)

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def new_preset(self) -> None:
        self._start(dict(EMPTY_FORM), [], "")

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def edit(self, preset_id: str) -> None:
        pid = product_id_param(self) or 0
        with session_scope() as db:
            preset = next((p for p in catalog_presets.list_presets(db, pid) if str(p.id) == str(preset_id)), None)
            if preset is None:
                self.error = "This preset no longer exists; the list was reloaded."
                self._reload()
                return
            snap = catalog_presets.snapshot(preset)
        selection = snap["selection"]
        form = {k: str(snap.get(k) or "") for k in PLAIN_KEYS} | {"is_featured": "on" if snap["is_featured"] else ""}
        checked: list[str] = []
        for group, keys in (selection.get("options") or {}).items():
            keys = keys if isinstance(keys, list) else [keys]
            form[f"opt:{group}"] = keys[0] if keys else ""
            checked += [f"{group}:{k}" for k in keys]
        checked += [f"addon:{a}" for a in selection.get("add_ons") or []]
        form["plan"] = selection.get("plan") or ""
        for key, value in (selection.get("fields") or {}).items():
            form[f"fv:{key}"] = str(value)
        self.error, self.notice = "", ""
        self._start(form, checked, str(preset_id))

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def save(self, data: dict[str, Any]):
        pid = product_id_param(self) or 0
        payload = {k: str(data.get(k, "") or "") for k in PLAIN_KEYS}
        payload["selection"] = _selection_from_form(data, self.groups, self.add_ons, self.field_specs, self.plans)
        editing = self.editing_id
        try:
            with session_scope() as db:
                preset, _version = catalog_presets.save_preset(
                    db,
                    operator_actor(self),
                    pid,
                    int(self.product.get("version", "0") or 0),
                    payload,
                    preset_id=int(editing) if editing else None,
                )
                done = f"Preset “{preset.label}” saved."
        except ServiceError as exc:
            self.errors, self.error, self.notice = dict(exc.errors), exc.message, ""
            if exc.code.value in ("conflict", "not_found"):
                self._reload()
            return None
        self.error, self.notice = "", done
        self._reload()
        self._start(dict(EMPTY_FORM), [], "")
        return rx.toast.success(done)

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def delete(self, preset_id: str):
        pid = product_id_param(self) or 0
        try:
            with session_scope() as db:
                catalog_presets.delete_preset(
                    db, operator_actor(self), pid, int(self.product.get("version", "0") or 0), int(preset_id)
                )
        except ServiceError as exc:
            self.error, self.notice = exc.message, ""
            self._reload()
            return None
        self.error, self.notice = "", "Preset deleted."
        self._reload()
        return rx.toast.success("Preset deleted.")

    # --- calculator ---

    def _pick_calculator(self, option_id: str) -> None:
        calc = self._calculators.get(option_id, {})
        self.calc_option = option_id
        self.calc_expression = str(calc.get("expression", ""))
        self.calc_inputs = catalog_presets.inputs_text(calc.get("sample_inputs") or {})
        self.calc_round += 1
        self._run_calculator()

    def _run_calculator(self) -> None:
        self.calc_output, self.calc_error = "", ""
        if not self.calc_expression.strip():
            return
        try:
            self.calc_output = catalog_presets.sample_output(
                self.calc_expression, self.calc_inputs, self.product.get("unit_label", "units")
            )
        except ServiceError as exc:
            self.calc_error = exc.message

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def choose_calculator(self, option_id: str) -> None:
        self._pick_calculator(str(option_id))

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def set_calc(self, name: str, value: str) -> None:
        if name == "expression":
            self.calc_expression = str(value)[:300]
        elif name == "inputs":
            self.calc_inputs = str(value)[:1000]
        self._run_calculator()

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def save_calculator(self, data: dict[str, Any]):
        pid = product_id_param(self) or 0
        payload = {
            "option_id": str(data.get("option_id", "") or self.calc_option),
            "expression": str(data.get("expression", "") or ""),
            "inputs": str(data.get("inputs", "") or ""),
        }
        if not payload["option_id"].isdigit():
            self.calc_error = "Choose the package the calculator belongs to."
            return None
        try:
            with session_scope() as db:
                catalog_presets.save_calculator(
                    db, operator_actor(self), pid, int(self.product.get("version", "0") or 0), payload
                )
        except ServiceError as exc:
            self.calc_error, self.notice = exc.message, ""
            if exc.code.value in ("conflict", "not_found"):
                self.error = exc.message
                self._reload()
            return None
        self.error, self.notice = "", "Calculator saved."
        self._reload()
        self._pick_calculator(payload["option_id"])
        return rx.toast.success("Calculator saved.")


S = PresetsEditorState


def _err(name: str) -> rx.Var:
    return S.errors.get(name, "").to(str)


def _input(name: str, **props) -> rx.Component:
    return rx.input(
        name=name,
        id=f"preset-{name}",
        default_value=S.form.get(name, "").to(str),
        key=f"{name}-" + S.form_round.to_string(),
        width="100%",
        **props,
    )


def _checkbox(name: str, ref: rx.Var, label: rx.Var) -> rx.Component:
    return rx.el.label(
        rx.hstack(
            rx.el.input(
                type="checkbox",
                name=name,
                default_checked=S.checked.contains(ref),
                key=name + "-" + S.form_round.to_string(),
            ),
            rx.text(label, size="2"),
            spacing="2",
            align="center",
        )
    )


def _group_control(group: rx.Var) -> rx.Component:
    gkey = group["key"].to(str)
    options = group["options"].to(list[dict[str, str]])
    return labelled(
        group["name"].to(str),
        rx.cond(
            group["multi"].to(bool),
            rx.hstack(
                rx.foreach(options, lambda o: _checkbox("opt:" + gkey + ":" + o["key"], o["ref"], o["label"])),
                spacing="3",
                wrap="wrap",
            ),
            rx.el.select(
                rx.el.option("— none —", value=""),
                rx.foreach(options, lambda o: rx.el.option(o["label"], value=o["key"])),
                name="opt:" + gkey,
                id="preset-opt-" + gkey,
                default_value=S.form.get("opt:" + gkey, "").to(str),
                key="opt-" + gkey + "-" + S.form_round.to_string(),
                style=SELECT_STYLE,
            ),
        ),
        S.errors.get("options." + gkey, "").to(str),
    )


def _preset_form() -> rx.Component:
    return card(
        rx.form(
            rx.vstack(
                rx.heading(rx.cond(S.editing_id != "", "Edit preset", "Add a preset"), size="4"),
                rx.grid(
                    labelled("Label", _input("label", placeholder="1,000 likes + priority"), _err("label")),
                    labelled("Key (internal)", _input("key", placeholder="popular"), _err("key")),
                    labelled("Badge", _input("badge", placeholder="Most chosen"), _err("badge")),
                    labelled("Image", _input("image_url", placeholder="/media/popular.png"), _err("image_url")),
                    labelled("Description", _input("description"), _err("description")),
                    labelled(
                        "Featured",
                        rx.el.input(
                            type="checkbox",
                            name="is_featured",
                            id="preset-is_featured",
                            default_checked=S.form.get("is_featured", "").to(str) == "on",
                            key="featured-" + S.form_round.to_string(),
                        ),
                        hint="shown as the one-click button on the product card",
                    ),
                    columns=rx.breakpoints(initial="1", md="2"),
                    spacing="4",
                    width="100%",
                ),
                rx.heading("Selection", size="3"),
                rx.grid(
                    rx.foreach(S.groups, _group_control),
                    columns=rx.breakpoints(initial="1", md="2"),
                    spacing="4",
                    width="100%",
                ),
                rx.cond(
                    S.add_ons.length() > 0,
                    labelled(
                        "Add-ons",
                        rx.hstack(
                            rx.foreach(
                                S.add_ons, lambda a: _checkbox("addon:" + a["key"], "addon:" + a["key"], a["label"])
                            ),
                            spacing="3",
                            wrap="wrap",
                        ),
                        _err("add_ons"),
                    ),
                ),
                rx.cond(
                    S.plans.length() > 0,
                    labelled(
                        "Plan",
                        rx.el.select(
                            rx.el.option("— choose —", value=""),
                            rx.foreach(S.plans, lambda p: rx.el.option(p["name"], value=p["key"])),
                            name="plan",
                            id="preset-plan",
                            default_value=S.form.get("plan", "").to(str),
                            key="plan-" + S.form_round.to_string(),
                            style=SELECT_STYLE,
                        ),
                        _err("plan"),
                    ),
                ),
                rx.cond(
                    S.field_specs.length() > 0,
                    labelled(
                        "Field values (leave empty for what the customer types)",
                        rx.grid(
                            rx.foreach(
                                S.field_specs,
                                lambda f: rx.vstack(
                                    rx.text(f["label"], size="1", color_scheme="gray"),
                                    rx.input(
                                        name="fv:" + f["key"],
                                        default_value=S.form.get("fv:" + f["key"], "").to(str),
                                        key="fv-" + f["key"] + "-" + S.form_round.to_string(),
                                        placeholder=f["placeholder"],
                                        width="100%",
                                    ),
                                    rx.text(
                                        S.errors.get("fields." + f["key"], "").to(str), color_scheme="red", size="1"
                                    ),
                                    spacing="1",
                                    width="100%",
                                ),
                            ),
                            columns=rx.breakpoints(initial="1", md="2"),
                            spacing="3",
                            width="100%",
                        ),
                    ),
                ),
                rx.hstack(
                    rx.button("Save preset", type="submit", id="save-preset", color_scheme="violet"),
                    rx.cond(
                        S.editing_id != "",
                        rx.button("Cancel", type="button", variant="soft", color_scheme="gray", on_click=S.new_preset),
                    ),
                    rx.text(
                        "The selection is priced on save; an invalid one is refused.", size="1", color_scheme="gray"
                    ),
                    spacing="3",
                    align="center",
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


def _calculator() -> rx.Component:
    return card(
        rx.form(
            rx.vstack(
                rx.heading("Calculator", size="4"),
                rx.text(
                    "Shown beside the price, e.g. “about 334 followers a day”. Names: the inputs below "
                    "(days is replaced by the delivery days of the customer's choice); functions min, max, "
                    "round, floor, ceil, abs.",
                    size="1",
                    color_scheme="gray",
                ),
                rx.cond(
                    S.packages.length() > 0,
                    rx.vstack(
                        labelled(
                            "Package",
                            rx.el.select(
                                rx.foreach(S.packages, lambda p: rx.el.option(p["label"], value=p["id"])),
                                name="option_id",
                                id="calc-option",
                                value=S.calc_option,
                                on_change=S.choose_calculator,
                                style=SELECT_STYLE,
                            ),
                        ),
                        rx.grid(
                            labelled(
                                "Expression",
                                rx.input(
                                    name="expression",
                                    id="calc-expression",
                                    default_value=S.calc_expression,
                                    key="calc-expression-" + S.calc_round.to_string(),
                                    on_change=lambda v: S.set_calc("expression", v),
                                    placeholder="amount / days",
                                    font_family="monospace",
                                    width="100%",
                                ),
                                hint="empty removes the calculator",
                            ),
                            labelled(
                                "Inputs",
                                rx.text_area(
                                    name="inputs",
                                    id="calc-inputs",
                                    default_value=S.calc_inputs,
                                    key="calc-inputs-" + S.calc_round.to_string(),
                                    on_change=lambda v: S.set_calc("inputs", v),
                                    placeholder="amount = 1000\ndays = 3",
                                    rows="3",
                                    width="100%",
                                ),
                                hint="one per line: name = number",
                            ),
                            columns=rx.breakpoints(initial="1", md="2"),
                            spacing="4",
                            width="100%",
                        ),
                        rx.cond(
                            S.calc_error != "",
                            rx.callout(S.calc_error, icon="circle-x", color_scheme="red", size="1", id="calc-error"),
                            rx.cond(
                                S.calc_output != "",
                                rx.callout(
                                    "Sample: " + S.calc_output,
                                    icon="calculator",
                                    color_scheme="green",
                                    size="1",
                                    id="calc-output",
                                ),
                            ),
                        ),
                        rx.button("Save calculator", type="submit", id="save-calculator", variant="soft"),
                        spacing="3",
                        width="100%",
                        align="start",
                    ),
                    rx.text("Add package options (with a quantity) first.", size="2", color_scheme="gray"),
                ),
                spacing="3",
                width="100%",
                align="start",
            ),
            on_submit=S.save_calculator,
            width="100%",
        ),
        width="100%",
    )


@page(
    route=routes.ADMIN_PRODUCT_EDITOR_PRESETS,
    title="Product presets",
    guard=Permission.EDIT_CATALOG,
    on_load=PresetsEditorState.load,
)
def admin_product_presets_page() -> rx.Component:
    table = rx.cond(
        S.rows.length() > 0,
        data_table(
            ["Preset", "Badge", "Choices", "Price", ""],
            S.rows,
            lambda r: [
                rx.table.row_header_cell(
                    rx.hstack(
                        rx.cond(
                            r["image"] != "",
                            rx.image(
                                src=r["image"], width="32px", height="32px", border_radius="6px", object_fit="cover"
                            ),
                        ),
                        rx.vstack(
                            rx.text(r["label"], weight="medium"),
                            rx.hstack(
                                rx.code(r["key"], size="1"),
                                rx.cond(r["featured"] != "", rx.badge("featured", size="1")),
                                spacing="2",
                            ),
                            spacing="0",
                        ),
                        spacing="2",
                        align="center",
                    )
                ),
                rx.table.cell(
                    rx.cond(r["badge"] != "", rx.badge(r["badge"], color_scheme="violet", variant="soft"), "—")
                ),
                rx.table.cell(rx.text(r["choices"], size="1")),
                rx.table.cell(r["price"]),
                rx.table.cell(
                    rx.hstack(
                        rx.button(
                            "Edit",
                            size="1",
                            variant="soft",
                            on_click=S.edit(r["id"]),
                            id="edit-preset-" + r["key"].to(str),
                        ),
                        rx.button(
                            "Delete", size="1", variant="outline", color_scheme="red", on_click=S.delete(r["id"])
                        ),
                        spacing="2",
                    )
                ),
            ],
            "presets-table",
        ),
        empty_state("sparkles", "No presets yet", "Offer a one-click choice: add a preset below.", id="presets-empty"),
    )
    body = rx.vstack(table, _preset_form(), _calculator(), spacing="4", width="100%", align="start")
    return admin_page(editor_frame(S, "presets", "One-click configurations, checked by the pricing service.", body))
