"""Admin → product editor: Details (`/admin/products/[product_id]`), Options & add-ons
(`/options`) and Preview & publish (`/preview`).

Every tab works on the product row in the URL. Opening a published product redirects to its
draft (`catalog_editor.open_draft`); `/admin/products/new` is the create form. The version the
editor was opened at is kept on the server and named by every save, so a save after somebody
else's is refused with the service's message. Rules live in `services.catalog_editor`.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from smplat.db import session_scope
from smplat.models.catalog import AddOnPricingMode, Platform, Product, ProductAddOn, ProductKind, ProductStatus
from smplat.services import catalog_editor, pricing
from smplat.services.errors import ServiceError
from smplat.services.money import format_money
from smplat.services.permissions import Permission
from smplat.ui import routes
from smplat.ui.components.common import (
    card,
    data_table,
    empty_state,
    field_error,
    form_alert,
    loading_block,
    page_title,
)
from smplat.ui.components.layout import admin_page
from smplat.ui.components.product_editor import editor_tabs
from smplat.ui.pages.admin._actions import operator_actor
from smplat.ui.pages.storefront.product import ProductState, configurator_form, preset_buttons, price_panel
from smplat.ui.registry import page
from smplat.ui.state.auth import AuthState, requires

NEW = "new"
DETAIL_KEYS = (
    "category_id",
    "title",
    "slug",
    "tagline",
    "description",
    "platform",
    "kind",
    "unit_label",
    "min_quantity",
    "max_quantity",
    "base_price",
    "delivery_estimate_hours",
    "seo_title",
    "meta_description",
    "social_image_url",
)
GROUP_KEYS = ("group_id", "key", "name", "description", "selection", "required", "sort_order")
OPTION_KEYS = (
    "option_id",
    "group_id",
    "key",
    "label",
    "description",
    "price",
    "quantity",
    "sort_order",
    "is_active",
    "tagline",
    "delivery_sla",
    "hero_image",
    "calculator",
    "sample_inputs",
)
ADD_ON_KEYS = (
    "add_on_id",
    "key",
    "label",
    "description",
    "pricing_mode",
    "amount",
    "percent",
    "provider_service_id",
    "sort_order",
    "is_active",
)
STATE_LABEL = {
    ProductStatus.DRAFT.value: "draft",
    ProductStatus.ACTIVE.value: "published",
    ProductStatus.ARCHIVED.value: "archived",
}


def _money_input(minor: int) -> str:
    return f"{minor / 100:.2f}"


def _only(form: dict[str, Any], keys: tuple[str, ...]) -> dict[str, str]:
    return {k: str(form[k]) for k in keys if k in form}


class EditorState(AuthState):
    """The editor of one product row: its details, option matrix, add-ons and publish panel."""

    product_id: int = 0
    version: int = 0
    is_new: bool = False
    loaded: bool = False
    found: bool = True
    info: dict[str, str] = {}
    values: dict[str, str] = {}
    errors: dict[str, str] = {}
    notice: str = ""
    form_error: str = ""
    form_version: int = 0
    categories: list[dict[str, str]] = []
    # options tab
    groups: list[dict[str, Any]] = []
    add_ons: list[dict[str, str]] = []
    services: list[dict[str, str]] = []
    group_form: dict[str, str] = {}
    option_form: dict[str, str] = {}
    add_on_form: dict[str, str] = {}
    calc_sample: str = ""
    service_check: dict[str, str] = {}
    # preview tab
    problems: list[dict[str, str]] = []
    checked: bool = False

    # --- loading ----------------------------------------------------------------------------

    def _url_id(self) -> str:
        return str(self.router.page.params.get("product_id", ""))

    def _show(self, db, product: Product) -> None:
        self.product_id = int(product.id)
        self.version = int(product.version)
        published = db.get(Product, product.draft_of_id) if product.draft_of_id else None
        self.info = {
            "title": product.title,
            "status": STATE_LABEL.get(product.status, product.status),
            "version": str(product.version),
            "is_draft_of": "yes" if product.draft_of_id else "",
            "published_slug": published.slug if published else (product.slug if product.published_at else ""),
            "public_slug": catalog_editor.public_slug(db, product),
            "published_at": f"{published.published_at:%d %b %Y %H:%M} UTC"
            if published and published.published_at
            else "",
            "live_id": str(published.id if published else product.id),
            "archived": "yes" if (published or product).status == ProductStatus.ARCHIVED.value else "",
        }
        self.values = {
            "category_id": str(product.category_id),
            "title": product.title,
            "slug": catalog_editor.public_slug(db, product),
            "tagline": product.tagline,
            "description": product.description,
            "platform": product.platform,
            "kind": product.kind,
            "unit_label": product.unit_label,
            "min_quantity": str(product.min_quantity),
            "max_quantity": str(product.max_quantity),
            "base_price": _money_input(product.base_price_minor),
            "delivery_estimate_hours": str(product.delivery_estimate_hours),
            "seo_title": product.seo_title,
            "meta_description": product.meta_description,
            "social_image_url": product.social_image_url,
        }
        self.form_version += 1

    def _open(self, db, tab: str):
        """Read the row of the URL; a published product opens (or reuses) its draft and the
        page moves there. Returns a redirect or None."""
        raw = self._url_id()
        product = db.get(Product, int(raw)) if raw.isdigit() else None
        self.loaded = True
        self.found = product is not None
        if product is None:
            return None
        if product.status != ProductStatus.DRAFT.value:
            draft = catalog_editor.open_draft(db, operator_actor(self), product.id)
            db.commit()
            return rx.redirect(routes.admin_product_editor(int(draft.id), tab))
        self._show(db, product)
        return None

    def _reset_messages(self) -> None:
        self.errors, self.notice, self.form_error = {}, "", ""

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def load_details(self):
        self._reset_messages()
        with session_scope() as db:
            self.categories = catalog_editor.category_choices(db)
            if self._url_id() == NEW:
                self.is_new, self.loaded, self.found, self.product_id, self.version = True, True, True, 0, 0
                self.info = {"title": "New product", "status": "draft", "version": "—"}
                first = self.categories[0]["id"] if self.categories else ""
                self.values = {
                    "category_id": first,
                    "platform": Platform.INSTAGRAM.value,
                    "kind": ProductKind.FOLLOWERS.value,
                    "unit_label": "followers",
                    "min_quantity": "100",
                    "max_quantity": "10000",
                    "base_price": "0.00",
                    "delivery_estimate_hours": "24",
                }
                self.form_version += 1
                return None
            self.is_new = False
            return self._open(db, "")

    def _fail(self, exc: ServiceError) -> None:
        """Show a refused save: beside its field when it names one, else above the form."""
        if exc.field and exc.field != "version":
            self.errors = {exc.field: exc.message}
            self.form_error = "Nothing was saved: fix the highlighted field."
        else:
            self.errors = {}
            self.form_error = exc.message

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def save_details(self, form: dict[str, Any]):
        values = _only(form, DETAIL_KEYS)
        self._reset_messages()
        try:
            with session_scope() as db:
                if self.is_new:
                    created = catalog_editor.create_product(db, operator_actor(self), values)
                    new_id = int(created.id)
                else:
                    product = catalog_editor.save_details(
                        db, operator_actor(self), self.product_id, self.version, values
                    )
                    self._show(db, product)
        except ServiceError as exc:
            self.values = {**self.values, **values}
            self._fail(exc)
            return None
        if self.is_new:
            return rx.redirect(routes.admin_product_editor(new_id, "options"))
        self.notice = f"Saved (version {self.version}). Customers see it once you publish."
        return None

    def _act(self, action) -> Any:
        try:
            with session_scope() as db:
                return action(db)
        except ServiceError as exc:
            self._fail(exc)
            return None

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def duplicate(self):
        self._reset_messages()
        copy_id = self._act(lambda db: int(catalog_editor.duplicate(db, operator_actor(self), self.product_id).id))
        return rx.redirect(routes.admin_product_editor(copy_id)) if copy_id else None

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def set_archived(self, archived: bool):
        self._reset_messages()
        done = self._act(
            lambda db: catalog_editor.set_archived(
                db, operator_actor(self), self.product_id, self.version, bool(archived)
            )
        )
        if done is None:
            return None
        return rx.redirect(routes.ADMIN_CATALOG)

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def discard_draft(self):
        self._reset_messages()
        done = self._act(
            lambda db: catalog_editor.discard_draft(db, operator_actor(self), self.product_id, self.version)
        )
        return rx.redirect(routes.ADMIN_CATALOG) if done else None

    # --- options & add-ons ----------------------------------------------------------------------

    def _load_options(self, db) -> None:
        product = db.get(Product, self.product_id)
        currency = product.currency
        groups = catalog_editor.option_groups(db, product.id)
        self.groups = [
            {
                "id": str(g.id),
                "key": g.key,
                "name": g.name,
                "description": g.description,
                "selection": g.selection,
                "kind": "single choice" if g.selection == "single" else "multiple choice",
                "required": "required" if g.required else "optional",
                "sort_order": str(g.sort_order),
                "options": [
                    {
                        "id": str(o.id),
                        "group_id": str(g.id),
                        "key": o.key,
                        "label": o.label,
                        "description": o.description,
                        "price": format_money(o.price_delta_minor, currency),
                        "price_input": _money_input(o.price_delta_minor),
                        "quantity": str(o.quantity or ""),
                        "sort_order": str(o.sort_order),
                        "active": "active" if o.is_active else "hidden",
                        "tagline": str((o.blueprint or {}).get("tagline", "")),
                        "delivery_sla": str((o.blueprint or {}).get("delivery_sla", "")),
                        "hero_image": str((o.blueprint or {}).get("hero_image", "")),
                        "calculator": str(((o.blueprint or {}).get("calculator") or {}).get("expression", "")),
                        "sample_inputs": ", ".join(
                            f"{k}={v}"
                            for k, v in (
                                ((o.blueprint or {}).get("calculator") or {}).get("sample_inputs") or {}
                            ).items()
                        ),
                    }
                    for o in sorted(opts, key=lambda o: (o.sort_order, o.id))
                ],
            }
            for g, opts in sorted(groups, key=lambda pair: (pair[0].sort_order, pair[0].id))
        ]
        services = {s["id"]: s["label"] for s in catalog_editor.provider_service_choices(db)}
        self.services = [{"id": k, "label": v} for k, v in services.items()]
        all_add_ons = catalog_editor.children(db, ProductAddOn, product.id)
        self.add_ons = [
            {
                "id": str(a.id),
                "key": a.key,
                "label": a.label,
                "description": a.description,
                "mode": a.pricing_mode,
                "price": f"+{a.percentage_bps / 100:g} %"
                if a.pricing_mode == AddOnPricingMode.PERCENTAGE.value
                else "+" + format_money(a.amount_minor, currency),
                "amount": _money_input(a.amount_minor),
                "percent": f"{a.percentage_bps / 100:g}",
                "service_id": str(a.provider_service_id or ""),
                "service": services.get(str(a.provider_service_id or ""), "—")
                if a.pricing_mode == AddOnPricingMode.SERVICE_OVERRIDE.value
                else "",
                "sort_order": str(a.sort_order),
                "active": "active" if a.is_active else "hidden",
            }
            for a in sorted(all_add_ons, key=lambda a: (a.sort_order, a.id))
        ]

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def load_options(self):
        self._reset_messages()
        self.group_form, self.option_form, self.add_on_form, self.calc_sample, self.service_check = {}, {}, {}, "", {}
        with session_scope() as db:
            redirect = self._open(db, "options")
            if redirect is not None or not self.found:
                return redirect
            self._load_options(db)
        return None

    def _save(self, action, done: str):
        self._reset_messages()
        try:
            with session_scope() as db:
                action(db)
                product = db.get(Product, self.product_id)
                db.flush()
                self._show(db, product)
                self._load_options(db)
        except ServiceError as exc:
            self._fail(exc)
            return None
        self.notice = done
        return True

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def edit_group(self, group_id: str):
        group = next((g for g in self.groups if g["id"] == group_id), None)
        self.group_form = {k: str(v) for k, v in (group or {}).items() if k != "options"}
        self.form_version += 1

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def new_group(self):
        self.group_form = {}
        self.form_version += 1

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def save_group(self, form: dict[str, Any]):
        values = _only(form, GROUP_KEYS)
        gid = values.pop("group_id", "")
        if self._save(
            lambda db: catalog_editor.save_group(
                db, operator_actor(self), self.product_id, self.version, values, gid or None
            ),
            "Option group saved.",
        ):
            self.group_form = {}

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def delete_group(self, group_id: str):
        self._save(
            lambda db: catalog_editor.delete_group(db, operator_actor(self), self.product_id, self.version, group_id),
            "Option group deleted.",
        )

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def edit_option(self, group_id: str, option_id: str):
        group = next((g for g in self.groups if g["id"] == group_id), None)
        option = next((o for o in (group or {}).get("options", []) if o["id"] == option_id), None)
        if option is None:
            self.option_form = {"group_id": group_id, "group_name": (group or {}).get("name", "")}
        else:
            self.option_form = {
                **{k: str(v) for k, v in option.items()},
                "price": option["price_input"],
                "group_name": group["name"],
            }
        self.calc_sample = ""
        self.form_version += 1

    def _check_calculator(self) -> None:
        """Inline: the calculator and its sample inputs through the safe evaluator."""
        values = {k: self.option_form.get(k, "") for k in ("calculator", "sample_inputs")}
        try:
            _blueprint, sample = catalog_editor.check_blueprint(values)
        except ServiceError as exc:
            self.errors = {exc.field or "option-calculator": exc.message}
            self.calc_sample = ""
            return
        self.errors = {}
        self.calc_sample = f"Sample output: {sample}" if sample else ""

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def set_calculator(self, value: str):
        self.option_form = {**self.option_form, "calculator": str(value)}
        self._check_calculator()

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def set_sample_inputs(self, value: str):
        self.option_form = {**self.option_form, "sample_inputs": str(value)}
        self._check_calculator()

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def save_option(self, form: dict[str, Any]):
        values = _only(form, OPTION_KEYS)
        gid, oid = values.pop("group_id", ""), values.pop("option_id", "")
        values.setdefault("is_active", "")
        if self._save(
            lambda db: catalog_editor.save_option(
                db, operator_actor(self), self.product_id, self.version, gid, values, oid or None
            ),
            "Option saved.",
        ):
            self.option_form, self.calc_sample = {}, ""

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def delete_option(self, option_id: str):
        self._save(
            lambda db: catalog_editor.delete_option(db, operator_actor(self), self.product_id, self.version, option_id),
            "Option deleted.",
        )

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def edit_add_on(self, add_on_id: str):
        add_on = next((a for a in self.add_ons if a["id"] == add_on_id), None)
        self.add_on_form = (
            {**add_on, "pricing_mode": add_on["mode"], "provider_service_id": add_on["service_id"]}
            if add_on
            else {"pricing_mode": "flat", "new": "yes"}
        )
        self.service_check = {}
        if add_on and add_on["service_id"]:
            self._check_service(add_on["service_id"], add_on["amount"])
        self.form_version += 1

    def _check_service(self, service_id: str, amount: str) -> None:
        try:
            extra = catalog_editor.parse_price(amount or "0")
        except ServiceError:
            extra = 0
        with session_scope() as db:
            product = db.get(Product, self.product_id)
            detail = catalog_editor.detail(db, product)
            quote = None
            try:
                quote = pricing.price_for(db, detail, pricing.default_configuration(detail), fields=pricing.FIELDS_SKIP)
            except (pricing.ConfigurationInvalid, pricing.PricingError):
                pass
            price = (quote.total_minor if quote else product.base_price_minor) + extra
            units = quote.service_units if quote else product.min_quantity
            self.service_check = catalog_editor.service_verdict(db, service_id, price, units, product.currency)
            if self.service_check:
                self.service_check["basis"] = f"for the default selection ({units:,} {product.unit_label})"

    def _recheck_service(self) -> None:
        """The picker's inline verdict: the chosen service's cost, the margin and the guardrail."""
        form = self.add_on_form
        self.service_check = {}
        if form.get("pricing_mode") == AddOnPricingMode.SERVICE_OVERRIDE.value and form.get("provider_service_id"):
            self._check_service(form["provider_service_id"], form.get("amount", "0"))

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def pick_mode(self, value: str):
        self.add_on_form = {**self.add_on_form, "pricing_mode": str(value)}
        self._recheck_service()

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def pick_service(self, value: str):
        self.add_on_form = {**self.add_on_form, "provider_service_id": str(value)}
        self._recheck_service()

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def pick_amount(self, value: str):
        self.add_on_form = {**self.add_on_form, "amount": str(value)}
        self._recheck_service()

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def save_add_on(self, form: dict[str, Any]):
        values = _only(form, ADD_ON_KEYS)
        aid = values.pop("add_on_id", "")
        values.setdefault("is_active", "")
        if self._save(
            lambda db: catalog_editor.save_add_on(
                db, operator_actor(self), self.product_id, self.version, values, aid or None
            ),
            "Add-on saved.",
        ):
            self.add_on_form, self.service_check = {}, {}

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def delete_add_on(self, add_on_id: str):
        self._save(
            lambda db: catalog_editor.delete_add_on(db, operator_actor(self), self.product_id, self.version, add_on_id),
            "Add-on deleted.",
        )

    # --- preview & publish ------------------------------------------------------------------

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def load_preview(self):
        self._reset_messages()
        with session_scope() as db:
            redirect = self._open(db, "preview")
            if redirect is not None or not self.found:
                return redirect
            self.problems = [
                p.as_row(self.product_id) for p in catalog_editor.validate_for_publish(db, self.product_id)
            ]
        self.checked = True
        return ProductState.load_preview(self.product_id)

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def publish(self):
        self._reset_messages()
        try:
            with session_scope() as db:
                live = catalog_editor.publish(db, operator_actor(self), self.product_id, self.version)
                slug = live.slug
        except catalog_editor.PublishRefused as refused:
            self.problems = [p.as_row(self.product_id) for p in refused.problems]
            self.form_error = refused.message
            return None
        except ServiceError as exc:
            self._fail(exc)
            return None
        self.problems = []
        return [rx.toast.success("Published: customers see it now."), rx.redirect(f"{routes.SERVICES}/{slug}")]


# --- shared pieces --------------------------------------------------------------------------------


def _header(tab: str, subtitle: str) -> rx.Component:
    info = EditorState.info
    return rx.vstack(
        editor_tabs(EditorState.product_id, tab),
        page_title(
            info["title"].to(str),
            subtitle,
            rx.hstack(
                rx.badge(info["status"].to(str), variant="soft", radius="full", id="editor-status"),
                rx.cond(
                    info["is_draft_of"],
                    rx.badge("draft of a published product", color_scheme="amber", variant="soft", radius="full"),
                ),
                rx.badge(
                    "version " + info["version"].to(str), color_scheme="gray", variant="outline", id="editor-version"
                ),
                spacing="2",
            ),
        ),
        form_alert(EditorState.form_error, alert_id="editor-error"),
        form_alert(EditorState.notice, color="green", icon="circle-check", alert_id="editor-notice"),
        spacing="3",
        width="100%",
        align="start",
    )


def _guarded(body: rx.Component, tab: str, subtitle: str) -> rx.Component:
    return admin_page(
        rx.cond(
            EditorState.loaded,
            rx.cond(
                EditorState.found,
                rx.vstack(_header(tab, subtitle), body, spacing="4", width="100%", align="start"),
                empty_state(
                    "search-x",
                    "This product does not exist",
                    "It may have been published (its draft is gone) or discarded.",
                    rx.link(rx.button("Back to the catalog"), href=routes.ADMIN_CATALOG),
                ),
            ),
            loading_block(),
        ),
    )


def _label(text: str, field_id: str) -> rx.Component:
    return rx.el.label(text, html_for=field_id, style={"font_size": "13px", "font_weight": "500"})


def _text(
    label: str,
    name: str,
    source: rx.Var,
    prefix: str = "",
    *,
    hint: str = "",
    type_: str = "text",
    width: str = "100%",
    **extra: Any,
) -> rx.Component:
    field_id = f"{prefix}{name}"
    error = EditorState.errors[field_id].to(str)
    return rx.vstack(
        _label(label, field_id),
        rx.input(
            name=name,
            id=field_id,
            type=type_,
            default_value=source[name].to(str),
            key=EditorState.form_version.to(str) + field_id,
            width="100%",
            color_scheme=rx.cond(error, "red", "gray"),
            **extra,
        ),
        rx.cond(
            error,
            field_error(error, field_id),
            rx.text(hint, size="1", color_scheme="gray") if hint else rx.fragment(),
        ),
        spacing="1",
        width=width,
        align="start",
    )


def _select(label: str, name: str, source: rx.Var, choices, prefix: str = "", **extra) -> rx.Component:
    field_id = f"{prefix}{name}"
    options = (
        rx.foreach(choices, lambda c: rx.el.option(c["label"], value=c["id"]))
        if isinstance(choices, rx.Var)
        else [rx.el.option(text, value=value) for value, text in choices]
    )
    return rx.vstack(
        _label(label, field_id),
        rx.el.select(
            options,
            name=name,
            id=field_id,
            default_value=source[name].to(str),
            key=EditorState.form_version.to(str) + field_id,
            style={
                "height": "32px",
                "width": "100%",
                "border": "1px solid var(--gray-a7)",
                "border_radius": "6px",
                "padding": "0 8px",
                "background": "var(--color-panel-solid)",
            },
            **extra,
        ),
        rx.cond(EditorState.errors[field_id], field_error(EditorState.errors[field_id].to(str), field_id)),
        spacing="1",
        width="100%",
        align="start",
    )


def _check(label: str, name: str, checked: rx.Var, field_id: str) -> rx.Component:
    return rx.hstack(
        rx.el.input(
            type="checkbox",
            name=name,
            id=field_id,
            default_checked=checked,
            key=EditorState.form_version.to(str) + field_id,
        ),
        _label(label, field_id),
        spacing="2",
        align="center",
    )


def _grid(*children: rx.Component, columns: str = "2") -> rx.Component:
    return rx.grid(*children, columns=rx.breakpoints(initial="1", md=columns), spacing="3", width="100%")


# --- details page ------------------------------------------------------------------------------


def _details_form() -> rx.Component:
    v = EditorState.values
    categories = EditorState.categories.to(list[dict[str, str]])
    return rx.form(
        rx.vstack(
            card(
                rx.heading("What you sell", size="4", margin_bottom="0.75rem"),
                _grid(
                    _text("Title", "title", v),
                    _text(
                        "Address (slug)",
                        "slug",
                        v,
                        hint="Shown as /services/<slug>; lowercase letters, digits and dashes.",
                    ),
                    rx.vstack(
                        _label("Category", "category_id"),
                        rx.el.select(
                            rx.foreach(categories, lambda c: rx.el.option(c["name"], value=c["id"])),
                            name="category_id",
                            id="category_id",
                            default_value=v["category_id"].to(str),
                            key=EditorState.form_version.to(str) + "category",
                            style={"height": "32px", "width": "100%", "border_radius": "6px", "padding": "0 8px"},
                        ),
                        rx.cond(
                            EditorState.errors["category_id"],
                            field_error(EditorState.errors["category_id"].to(str), "category_id"),
                        ),
                        spacing="1",
                        width="100%",
                        align="start",
                    ),
                    _select("Platform", "platform", v, [(p.value, p.value.title()) for p in Platform]),
                    _select("Delivers", "kind", v, [(k.value, k.value.title()) for k in ProductKind]),
                    _text("Unit label", "unit_label", v, hint="What the quantity counts, e.g. followers."),
                    _text("Minimum quantity", "min_quantity", v, type_="number"),
                    _text("Maximum quantity", "max_quantity", v, type_="number"),
                    _text("Base price (€)", "base_price", v, hint="The price before options; 0 when options price it."),
                    _text("Delivery estimate (hours)", "delivery_estimate_hours", v, type_="number"),
                ),
                _text("Tagline", "tagline", v),
                rx.vstack(
                    _label("Description", "description"),
                    rx.text_area(
                        name="description",
                        id="description",
                        default_value=v["description"].to(str),
                        key=EditorState.form_version.to(str) + "description",
                        width="100%",
                        rows="4",
                    ),
                    spacing="1",
                    width="100%",
                    align="start",
                ),
                width="100%",
            ),
            card(
                rx.heading("Search engines and sharing", size="4", margin_bottom="0.75rem"),
                _grid(
                    _text("SEO title", "seo_title", v, hint="Empty: the product title."),
                    _text("Social image URL", "social_image_url", v, hint="Empty: the primary image."),
                ),
                _text("Meta description", "meta_description", v, hint="Up to 300 characters; empty: the tagline."),
                width="100%",
            ),
            rx.hstack(
                rx.button(
                    rx.cond(EditorState.is_new, "Create product", "Save"), type="submit", size="3", id="save-details"
                ),
                rx.spacer(),
                rx.cond(
                    ~EditorState.is_new,
                    rx.hstack(
                        rx.button(
                            "Duplicate", variant="soft", type="button", on_click=EditorState.duplicate, id="duplicate"
                        ),
                        rx.cond(
                            EditorState.info["is_draft_of"],
                            rx.button(
                                "Discard draft",
                                variant="soft",
                                color_scheme="red",
                                type="button",
                                on_click=EditorState.discard_draft,
                                id="discard-draft",
                            ),
                        ),
                        rx.cond(
                            EditorState.info["published_slug"],
                            rx.cond(
                                EditorState.info["archived"],
                                rx.button(
                                    "Bring back",
                                    variant="soft",
                                    type="button",
                                    on_click=EditorState.set_archived(False),
                                    id="unarchive",
                                ),
                                rx.button(
                                    "Archive",
                                    variant="soft",
                                    color_scheme="gray",
                                    type="button",
                                    on_click=EditorState.set_archived(True),
                                    id="archive",
                                ),
                            ),
                        ),
                        spacing="2",
                    ),
                ),
                width="100%",
            ),
            spacing="4",
            width="100%",
        ),
        on_submit=EditorState.save_details,
        reset_on_submit=False,
        width="100%",
        id="details-form",
    )


@page(
    route=routes.ADMIN_PRODUCT_EDITOR,
    title="Product editor",
    guard=Permission.EDIT_CATALOG,
    on_load=EditorState.load_details,
)
def product_details_page() -> rx.Component:
    return _guarded(
        rx.vstack(
            rx.cond(
                EditorState.info["published_at"],
                rx.callout(
                    "You are editing a draft. Customers keep seeing the version published on "
                    + EditorState.info["published_at"].to(str)
                    + " until you publish this one.",
                    icon="info",
                    color_scheme="blue",
                    size="1",
                    width="100%",
                ),
            ),
            _details_form(),
            spacing="4",
            width="100%",
        ),
        "details",
        "Title, address, quantities, base price and search snippet.",
    )


# --- options & add-ons page ----------------------------------------------------------------------


def _group_card(g: rx.Var) -> rx.Component:
    options = g["options"].to(list[dict[str, str]])
    return card(
        rx.hstack(
            rx.vstack(
                rx.hstack(
                    rx.heading(g["name"].to(str), size="4"),
                    rx.badge(g["kind"].to(str), variant="soft", color_scheme="gray"),
                    rx.badge(g["required"].to(str), variant="soft", color_scheme="violet"),
                    spacing="2",
                    align="center",
                ),
                rx.text(
                    "key " + g["key"].to(str) + " · order " + g["sort_order"].to(str), size="1", color_scheme="gray"
                ),
                spacing="1",
                align="start",
            ),
            rx.spacer(),
            rx.hstack(
                rx.button("Edit group", size="1", variant="soft", on_click=EditorState.edit_group(g["id"].to(str))),
                rx.button("Add option", size="1", on_click=EditorState.edit_option(g["id"].to(str), "")),
                rx.button(
                    "Delete",
                    size="1",
                    variant="ghost",
                    color_scheme="red",
                    on_click=EditorState.delete_group(g["id"].to(str)),
                ),
                spacing="2",
                wrap="wrap",
            ),
            width="100%",
            align="start",
            wrap="wrap",
            margin_bottom="0.75rem",
        ),
        rx.cond(
            options.length() > 0,
            data_table(
                ["Option", "Package", "Price", "Shown", ""],
                options,
                lambda o: [
                    rx.table.row_header_cell(
                        rx.vstack(
                            rx.text(o["label"], weight="medium"),
                            rx.text(
                                "key " + o["key"].to(str) + " · order " + o["sort_order"].to(str),
                                size="1",
                                color_scheme="gray",
                            ),
                            rx.text(o["tagline"], size="1", color_scheme="gray"),
                            spacing="0",
                        )
                    ),
                    rx.table.cell(o["quantity"]),
                    rx.table.cell(o["price"]),
                    rx.table.cell(o["active"]),
                    rx.table.cell(
                        rx.hstack(
                            rx.button(
                                "Edit",
                                size="1",
                                variant="soft",
                                on_click=EditorState.edit_option(o["group_id"].to(str), o["id"].to(str)),
                            ),
                            rx.button(
                                "Delete",
                                size="1",
                                variant="ghost",
                                color_scheme="red",
                                on_click=EditorState.delete_option(o["id"].to(str)),
                            ),
                            spacing="1",
                        )
                    ),
                ],
            ),
            rx.text("No options yet: add the first answer customers can pick.", size="2", color_scheme="gray"),
        ),
        width="100%",
        id="group-" + g["key"].to(str),
    )


def _group_form() -> rx.Component:
    f = EditorState.group_form
    return card(
        rx.heading(rx.cond(f["id"].to(str), "Edit option group", "New option group"), size="4"),
        rx.form(
            rx.vstack(
                rx.el.input(type="hidden", name="group_id", value=f["id"].to(str)),
                _grid(
                    _text("Key", "key", f, "group-", hint="Internal, e.g. package."),
                    _text("Name customers read", "name", f, "group-"),
                    _select(
                        "Choice", "selection", f, [("single", "Single choice"), ("multi", "Multiple choice")], "group-"
                    ),
                    _text("Order", "sort_order", f, "group-", type_="number"),
                ),
                _text("Description", "description", f, "group-"),
                _check(
                    "Required: customers must choose one",
                    "required",
                    f["required"].to(str) != "optional",
                    "group-required",
                ),
                rx.hstack(
                    rx.button("Save group", type="submit", id="save-group"),
                    rx.button("New group", type="button", variant="ghost", on_click=EditorState.new_group),
                    spacing="2",
                ),
                spacing="3",
                width="100%",
            ),
            on_submit=EditorState.save_group,
            reset_on_submit=False,
            id="group-form",
        ),
        width="100%",
    )


def _option_form() -> rx.Component:
    f = EditorState.option_form
    return rx.cond(
        f["group_id"].to(str),
        card(
            rx.heading(
                rx.cond(f["id"].to(str), "Edit option", "New option") + " in " + f["group_name"].to(str), size="4"
            ),
            rx.form(
                rx.vstack(
                    rx.el.input(type="hidden", name="group_id", value=f["group_id"].to(str)),
                    rx.el.input(type="hidden", name="option_id", value=f["id"].to(str)),
                    _grid(
                        _text("Key", "key", f, "option-"),
                        _text("Label customers read", "label", f, "option-"),
                        _text(
                            "Package quantity",
                            "quantity",
                            f,
                            "option-",
                            type_="number",
                            hint="Units delivered; empty for non-package options.",
                        ),
                        _text("Price (€)", "price", f, "option-", hint="Added to the base price."),
                        _text("Order", "sort_order", f, "option-", type_="number"),
                    ),
                    _check("Shown to customers", "is_active", f["active"].to(str) != "hidden", "option-is_active"),
                    rx.heading("Blueprint copy", size="3", margin_top="0.5rem"),
                    _grid(
                        _text("Tagline", "tagline", f, "option-"),
                        _text("Delivery promise", "delivery_sla", f, "option-"),
                        _text("Hero image URL", "hero_image", f, "option-"),
                    ),
                    _grid(
                        _text(
                            "Calculator expression",
                            "calculator",
                            f,
                            "option-",
                            hint="e.g. amount / days",
                            on_blur=EditorState.set_calculator,
                        ),
                        _text(
                            "Sample inputs",
                            "sample_inputs",
                            f,
                            "option-",
                            hint="e.g. amount=1000, days=5",
                            on_blur=EditorState.set_sample_inputs,
                        ),
                    ),
                    rx.cond(
                        EditorState.calc_sample != "",
                        rx.badge(EditorState.calc_sample, color_scheme="green", variant="soft", id="calc-sample"),
                    ),
                    rx.hstack(
                        rx.button("Save option", type="submit", id="save-option"),
                        spacing="2",
                    ),
                    spacing="3",
                    width="100%",
                ),
                on_submit=EditorState.save_option,
                reset_on_submit=False,
                id="option-form",
            ),
            width="100%",
        ),
    )


def _add_on_form() -> rx.Component:
    f = EditorState.add_on_form
    check = EditorState.service_check
    return rx.cond(
        f["pricing_mode"].to(str),
        card(
            rx.heading(rx.cond(f["id"].to(str), "Edit add-on", "New add-on"), size="4"),
            rx.form(
                rx.vstack(
                    rx.el.input(type="hidden", name="add_on_id", value=f["id"].to(str)),
                    _grid(
                        _text("Key", "key", f, "addon-"),
                        _text("Label customers read", "label", f, "addon-"),
                        _select(
                            "Pricing",
                            "pricing_mode",
                            f,
                            [
                                ("flat", "Flat amount"),
                                ("percentage", "Percent of the configured price"),
                                ("service_override", "Another provider service"),
                            ],
                            "addon-",
                            on_change=EditorState.pick_mode,
                        ),
                        _text(
                            "Amount (€)",
                            "amount",
                            f,
                            "addon-",
                            hint="Flat, or the extra charged for the service.",
                            on_blur=EditorState.pick_amount,
                        ),
                        _text("Percent", "percent", f, "addon-", hint="For percent add-ons, e.g. 15."),
                        _text("Order", "sort_order", f, "addon-", type_="number"),
                    ),
                    _select(
                        "Provider service (service override)",
                        "provider_service_id",
                        f,
                        EditorState.services.to(list[dict[str, str]]),
                        "addon-",
                        on_change=EditorState.pick_service,
                    ),
                    rx.cond(
                        check["service"].to(str),
                        rx.callout(
                            rx.vstack(
                                rx.text(check["service"].to(str) + " · " + check["rate"].to(str), weight="medium"),
                                rx.text(
                                    "Customer pays "
                                    + check["price"].to(str)
                                    + ", provider cost "
                                    + check["cost"].to(str)
                                    + ", margin "
                                    + check["margin"].to(str)
                                    + " "
                                    + check["basis"].to(str),
                                    size="2",
                                ),
                                rx.text("Guardrail: " + check["verdict"].to(str), size="2", weight="bold"),
                                spacing="1",
                                align="start",
                            ),
                            icon="shield-check",
                            color_scheme=rx.cond(
                                check["verdict"].to(str) == "ok",
                                "green",
                                rx.cond(check["verdict"].to(str).contains("warning"), "amber", "red"),
                            ),
                            width="100%",
                            id="service-verdict",
                        ),
                    ),
                    _check("Shown to customers", "is_active", f["active"].to(str) != "hidden", "addon-is_active"),
                    rx.button("Save add-on", type="submit", id="save-add-on"),
                    spacing="3",
                    width="100%",
                ),
                on_submit=EditorState.save_add_on,
                reset_on_submit=False,
                id="add-on-form",
            ),
            width="100%",
        ),
    )


@page(
    route=routes.ADMIN_PRODUCT_EDITOR_OPTIONS,
    title="Options & add-ons",
    guard=Permission.EDIT_CATALOG,
    on_load=EditorState.load_options,
)
def product_options_page() -> rx.Component:
    add_ons = data_table(
        ["Add-on", "Key", "Pricing", "Price", "Provider service", "Shown", ""],
        EditorState.add_ons,
        lambda a: [
            rx.table.row_header_cell(a["label"], id="addon-" + a["key"].to(str)),
            rx.table.cell(a["key"]),
            rx.table.cell(a["mode"]),
            rx.table.cell(a["price"]),
            rx.table.cell(rx.text(a["service"], size="1")),
            rx.table.cell(a["active"]),
            rx.table.cell(
                rx.hstack(
                    rx.button("Edit", size="1", variant="soft", on_click=EditorState.edit_add_on(a["id"].to(str))),
                    rx.button(
                        "Delete",
                        size="1",
                        variant="ghost",
                        color_scheme="red",
                        on_click=EditorState.delete_add_on(a["id"].to(str)),
                    ),
                    spacing="1",
                )
            ),
        ],
        "add-ons-table",
    )
    return _guarded(
        rx.grid(
            rx.vstack(
                rx.heading("Option groups", size="5"),
                rx.cond(
                    EditorState.groups.length() > 0,
                    rx.vstack(rx.foreach(EditorState.groups, _group_card), spacing="3", width="100%"),
                    rx.text(
                        "No option groups yet. Add one (e.g. Package size) or sell at the base price.",
                        color_scheme="gray",
                        id="no-groups",
                    ),
                ),
                rx.hstack(
                    rx.heading("Add-ons", size="5"),
                    rx.spacer(),
                    rx.button("Add add-on", size="2", on_click=EditorState.edit_add_on(""), id="new-add-on"),
                    width="100%",
                    margin_top="1rem",
                ),
                rx.cond(
                    EditorState.add_ons.length() > 0,
                    add_ons,
                    rx.text("No add-ons yet.", color_scheme="gray"),
                ),
                spacing="3",
                width="100%",
                align="start",
            ),
            rx.vstack(_group_form(), _option_form(), _add_on_form(), spacing="3", width="100%"),
            grid_template_columns=rx.breakpoints(initial="minmax(0, 1fr)", lg="minmax(0, 7fr) minmax(0, 5fr)"),
            spacing="5",
            width="100%",
        ),
        "options",
        "What customers choose: groups, options with package quantities and prices, add-ons.",
    )


# --- preview & publish page -----------------------------------------------------------------------


def _verdict(verdict: rx.Var) -> rx.Component:
    return rx.badge(
        verdict,
        variant="soft",
        radius="full",
        color_scheme=rx.match(verdict, ("ok", "green"), ("warning", "amber"), "red"),
    )


def _publish_panel() -> rx.Component:
    return card(
        rx.heading("Publish", size="4"),
        rx.cond(
            EditorState.problems.length() > 0,
            rx.vstack(
                rx.text(
                    "Fix these before customers can see it:",
                    size="2",
                    weight="medium",
                    color="var(--red-11)",
                ),
                rx.el.ul(
                    rx.foreach(
                        EditorState.problems,
                        lambda p: rx.el.li(
                            rx.link(p["message"], href=p["href"], size="2"),
                            rx.text(" (" + p["tab"].to(str) + " tab)", as_="span", size="1", color_scheme="gray"),
                        ),
                    ),
                    style={"padding_left": "1.2rem", "margin": "0"},
                    id="publish-problems",
                ),
                spacing="2",
                width="100%",
                align="start",
            ),
            rx.cond(
                EditorState.checked,
                rx.text(
                    "Every default, preset and plan prices, every route clears the margin floor, every image has alt text.",
                    size="2",
                    color="var(--green-11)",
                    id="publish-ready",
                ),
            ),
        ),
        rx.button(
            rx.icon("rocket", size=16),
            "Publish",
            size="3",
            on_click=EditorState.publish,
            id="publish",
            margin_top="0.75rem",
        ),
        width="100%",
    )


def _margins() -> rx.Component:
    return card(
        rx.heading("Margin for this selection", size="4"),
        rx.text(
            "Per sales channel and route, in the order routing tries them (the first eligible one takes the "
            "order): what the customer pays against provider cost.",
            size="1",
            color_scheme="gray",
        ),
        rx.cond(
            ProductState.preview_margins.length() > 0,
            data_table(
                ["Channel · customer pays", "Route", "Cost", "Margin"],
                ProductState.preview_margins,
                lambda r: [
                    rx.table.row_header_cell(
                        rx.vstack(
                            rx.text(r["channel"], size="2", weight="medium"),
                            rx.text(r["price"], size="2"),
                            spacing="0",
                            min_width="110px",
                        )
                    ),
                    rx.table.cell(
                        rx.vstack(
                            rx.text(r["service"], size="1"),
                            rx.text(r["note"], size="1", color_scheme="gray"),
                            spacing="0",
                            min_width="180px",
                        )
                    ),
                    rx.table.cell(r["cost"]),
                    rx.table.cell(
                        rx.vstack(
                            rx.text(r["margin"], size="2", white_space="nowrap"), _verdict(r["verdict"]), spacing="1"
                        )
                    ),
                ],
                "preview-margins",
            ),
            rx.text("Choose a valid configuration to see its margins.", size="2", color_scheme="gray"),
        ),
        width="100%",
    )


@page(
    route=routes.ADMIN_PRODUCT_EDITOR_PREVIEW,
    title="Preview & publish",
    guard=Permission.EDIT_CATALOG,
    on_load=EditorState.load_preview,
)
def product_preview_page() -> rx.Component:
    customer_view = card(
        rx.text("As customers will see it", size="1", color_scheme="gray", weight="medium"),
        rx.heading(ProductState.product["title"], size="6", weight="bold", id="preview-title"),
        rx.text(ProductState.product["tagline"], size="3", color_scheme="gray"),
        preset_buttons(),
        configurator_form(),
        width="100%",
        id="preview-configurator",
    )
    return _guarded(
        rx.grid(
            rx.vstack(customer_view, spacing="3", width="100%"),
            rx.vstack(price_panel(), _margins(), _publish_panel(), spacing="3", width="100%"),
            grid_template_columns=rx.breakpoints(initial="minmax(0, 1fr)", lg="minmax(0, 5fr) minmax(0, 7fr)"),
            spacing="5",
            width="100%",
        ),
        "preview",
        "The draft as customers will configure it, with the margin of each route.",
    )
