"""The product page (/services/[slug]): the configurator and its state."""

from __future__ import annotations

from typing import Any

import reflex as rx

from smplat.db import session_scope
from smplat.models.catalog import Product
from smplat.services import (
    analytics,
    carts,
    catalog,
    catalog_editor,
    client_orders,
    configurator,
    counters,
    delivery_promise,
    experiments,
    pricing,
    seo,
)
from smplat.services import profiles as profile_service
from smplat.services.errors import ServiceError
from smplat.services.money import format_money
from smplat.services.permissions import Permission, has_permission
from smplat.services.rate_limits import RateLimited
from smplat.settings import get_settings
from smplat.ui import routes
from smplat.ui.components.bundles import bundles_section
from smplat.ui.components.common import card, empty_state
from smplat.ui.components.layout import storefront_page
from smplat.ui.components.product_cards import platform_icon
from smplat.ui.components.skeletons import skeleton_block, skeleton_card, skeleton_text
from smplat.ui.registry import page
from smplat.ui.state.auth import requires, signed_in_only
from smplat.ui.state.cart import ShopperState

# The seeded product images are 400 × 300; the image box keeps this ratio before it loads.
PRODUCT_IMAGE_RATIO = "4 / 3"


def _delta_text(minor: int, currency: str) -> str:
    if minor == 0:
        return "included"
    return ("+" if minor > 0 else "") + format_money(minor, currency)


class ProductState(ShopperState):
    """The configurator. Holds only the customer's choices and display rows; every price,
    error and visibility comes from `services.pricing` on the server after each change."""

    found: bool = True
    loaded: bool = False
    slug: str = ""
    product: dict[str, Any] = {}
    config: dict[str, Any] = {}
    quantity: int = 1
    touched: list[str] = []
    groups: list[dict[str, Any]] = []
    add_ons: list[dict[str, Any]] = []
    plans: list[dict[str, Any]] = []
    fields: list[dict[str, Any]] = []
    presets: list[dict[str, Any]] = []
    images: list[dict[str, str]] = []
    # head tags (services/seo.py): the SEO title, meta description and og:image of this product
    head_title: str = f"Service · {get_settings().brand_name}"
    head_description: str = ""
    head_image: str = ""
    breakdown: list[dict[str, str]] = []
    total: str = ""
    unit_price: str = ""
    billing_note: str = ""
    estimate: str = ""
    average_time: str = ""  # "" until the service has completed orders
    calculator: str = ""
    highlight: dict[str, str] = {}
    form_error: str = ""
    added: bool = False
    saved: list[dict[str, str]] = []
    save_message: str = ""
    editing_item_id: int = 0  # a cart line being edited (opened from /cart), else 0
    profile_handles: list[str] = []  # the signed-in customer's linked profiles on this platform
    fields_round: int = 0  # bumped when the server fills fields, so the (uncontrolled) inputs re-mount
    # The catalog editor's preview (/admin/products/[id]/preview) runs this same configurator on a
    # draft: `_preview_id` (server-only) is set by the guarded `load_preview` and cleared by
    # `load_product`; in preview nothing is added to a cart or counted, and each change also
    # refreshes the margin per route and channel (`catalog_editor.margin_rows`).
    _preview_id: int = 0
    preview_mode: bool = False
    preview_margins: list[dict[str, str]] = []

    def _detail(self, db):
        if self._preview_id:
            product = db.get(Product, self._preview_id)
            user = self._current_user()
            if product is None or user is None or not has_permission(user.role, Permission.EDIT_CATALOG):
                return None
            return catalog_editor.detail(db, product)
        return catalog.get_product_detail(db, self.slug)

    def _refresh(self, db, detail, quote: pricing.Quote | None = None) -> None:
        """Display rows for the current choices; `quote` is the price this event already
        computed (the line just stored), else the choices are priced here."""
        currency = detail.product.currency
        try:
            config = pricing.normalize(self.config)
        except pricing.ConfigurationInvalid:
            config = pricing.default_configuration(detail)
        self.config = config.as_dict()
        errors: dict[str, str] = {}
        if quote is None:
            try:
                # choices are priced even while typed values still need fixing (field_errors)
                quote = pricing.price_for(
                    db, detail, config, quantity=self.quantity, visitor=self._visitor(), fields=pricing.FIELDS_COLLECT
                )
                errors = quote.field_errors
            except pricing.ConfigurationInvalid as exc:
                errors = exc.errors
        selected = config.options
        self.groups = [
            {
                "key": g.key,
                "name": g.name,
                "selection": "Choose one" if g.selection == "single" else "Choose any",
                "error": errors.get(f"options.{g.key}", ""),
                "options": [
                    {
                        "key": o.key,
                        "label": o.label,
                        "description": o.description or str((o.blueprint or {}).get("tagline", "")),
                        "delta": _delta_text(o.price_delta_minor, currency),
                        "selected": o.key in selected.get(g.key, []),
                    }
                    for o in opts
                ],
            }
            for g, opts in detail.groups
        ]
        self.add_ons = [
            {
                "key": a.key,
                "label": a.label,
                "description": a.description,
                "price": (
                    f"+{a.percentage_bps / 100:g}%"
                    if a.pricing_mode == "percentage"
                    else "+" + format_money(a.amount_minor, currency)
                ),
                "selected": a.key in config.add_ons,
            }
            for a in detail.add_ons
        ]
        # each plan card prices the current choices on that plan, so it agrees with the total
        plan_prices = pricing.plan_prices(detail, quote) if quote is not None else {}
        self.plans = [
            {
                "key": p.key,
                "name": p.name,
                "price": format_money(plan_prices.get(p.key, p.price_minor), p.currency),
                "billing": "one-time" if p.billing == "one_time" else f"every {p.interval}",
                "selected": p.key == config.plan,
            }
            for p in detail.plans
        ]
        self.fields = [
            {
                "key": f.key,
                "label": f.label,
                "help": f.help_text,
                "placeholder": f.placeholder,
                "required": f.required,
                "type": "number" if f.field_type == "number" else "text",
                "textarea": f.field_type == "textarea",
                "handle": f.field_type == "handle",
                "choice": f.field_type == "choice",
                "choices": [
                    {"value": str(c.get("value", "")), "label": str(c.get("label", ""))} for c in f.choices or []
                ],
                "visible": pricing.is_visible(f.visibility_rules, config),
                "value": config.fields.get(f.key, f.default_value or ""),
                "error": errors.get(f"fields.{f.key}", "") if f.key in self.touched else "",
            }
            for f in detail.fields
        ]
        self.presets = [
            {
                "key": pr.key,
                "label": pr.label,
                "description": pr.description,
                "badge": pr.badge,
                "image": pr.image_url,
                "active": pr.key == config.preset,
            }
            for pr in detail.presets
        ]
        if quote is not None:
            self.breakdown = pricing.format_breakdown(quote, detail)
            self.total = format_money(quote.total_minor, currency)
            self.unit_price = format_money(quote.unit_price_minor, currency)
            self.billing_note = (
                f"billed every {quote.interval}" if quote.billing == "subscription" else "one-time payment"
            )
        else:
            self.breakdown, self.total, self.unit_price, self.billing_note = [], "—", "—", ""
        # one delivery promise (time and pace) for these choices and packages, the same words as cart and receipt
        promise = pricing.delivery_promise(detail, config, quantity=self.quantity if quote is not None else 1)
        self.estimate = promise.text
        self.calculator = "" if promise.pace_text else pricing.calculator_text(detail, config)
        chosen = pricing.blueprint_snapshot(detail, config)
        first = chosen[0] if chosen else {}
        hero = next((b["hero_image"] for b in chosen if b["hero_image"]), "")
        self.highlight = {
            "tagline": first.get("tagline", ""),
            "image": hero or (self.images[0]["url"] if self.images else ""),
        }
        others = [k for k in errors if not k.startswith("fields.") or k.split(".", 1)[1] in self.touched]
        self.form_error = "Please fix the highlighted choices." if quote is None and others else ""
        if self._preview_id:
            self.preview_margins = (
                [] if quote is None else catalog_editor.margin_rows(db, detail.product, detail, quote)
            )

    def _with_detail(self, change):
        """Apply one change of the customer's choices: `change(detail)` asks the configurator
        service for the next configuration; a choice the product does not offer (a crafted
        event) is refused with the service's message and changes nothing."""
        with session_scope() as db:
            detail = self._detail(db)
            if detail is None:
                self.found = False
                return None
            try:
                config = change(detail)
            except ServiceError as exc:
                return rx.toast.error(exc.message)
            self.config = config
            self.added = False
            self._refresh(db, detail)
        return None

    def _show_product(self, detail) -> None:
        p = detail.product
        self.product = {
            "id": str(p.id),
            "title": p.title,
            "tagline": p.tagline,
            "description": p.description,
            "platform": p.platform,
            "category": detail.category.name,
            "unit": p.unit_label,
            "delivery": delivery_promise.card_text(p.delivery_estimate_hours, p.min_quantity, p.unit_label),
            "subscription": "1" if p.kind == "subscription" else "",
        }
        self.images = [
            {"url": m.card_url or m.url, "thumb": m.thumb_url or m.card_url or m.url, "alt": m.alt_text or p.title}
            for m in detail.media
        ]
        head = seo.product_head(p, detail.media)
        self.head_title, self.head_description, self.head_image = head.title, head.description, head.image

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def load_preview(self, product_id: int):
        """The editor's preview of a product row (a draft): the configurator exactly as
        customers will get it, nothing added to a cart, margins beside it."""
        self._preview_id = int(product_id)
        self.preview_mode = True
        self.touched, self.quantity, self.added, self.save_message, self.form_error = [], 1, False, "", ""
        self.editing_item_id, self.saved, self.profile_handles, self.average_time = 0, [], [], ""
        with session_scope() as db:
            detail = self._detail(db)
            self.loaded = True
            self.found = detail is not None
            if detail is None:
                return
            self.slug = detail.product.slug
            self._show_product(detail)
            preset = next((pr for pr in detail.presets if pr.is_featured), None)
            try:
                config = pricing.from_preset(detail, preset.key) if preset else pricing.default_configuration(detail)
            except pricing.ConfigurationInvalid:
                config = pricing.default_configuration(detail)
            self.config = config.as_dict()
            self._refresh(db, detail)

    @rx.event
    def load_product(self):
        self.load_user()
        self._preview_id, self.preview_mode, self.preview_margins = 0, False, []
        self.slug = self.router.page.params.get("slug", "")
        self.touched, self.quantity, self.added, self.save_message, self.form_error = [], 1, False, "", ""
        self.editing_item_id = 0
        query = self.router.url.query_parameters
        with session_scope() as db:
            detail = self._detail(db)
            self.loaded = True
            self.found = detail is not None
            if detail is None:
                return
            p = detail.product
            self._note_visit(db, product_view=True)
            # how long the last completed orders of this service took, as panels show it
            self.average_time = analytics.average_time_label(db, p.id)
            self._show_product(detail)
            preset = next((pr for pr in detail.presets if pr.is_featured), None)
            config = pricing.from_preset(detail, preset.key) if preset else pricing.default_configuration(detail)
            notice = None
            card_preset = str(query.get("preset", ""))
            if card_preset:
                # a one-click preset button on a marketing card opened this page
                try:
                    config = pricing.from_preset(detail, card_preset)
                    counters.record_preset_event(
                        db,
                        product_id=p.id,
                        preset_key=card_preset,
                        action="apply",
                        source="marketing_card",
                        consent=self.consent_choice,
                        client_ip=self._client_ip(),
                        visitor=self._visitor(),
                    )
                except pricing.ConfigurationInvalid:
                    notice = rx.toast.error("That package is not offered any more; pick one below.")
            edit = str(query.get("edit", ""))
            if edit:
                line = carts.owned_item(db, owner=self._owner(), item_id=int(edit) if edit.isdigit() else None)
                if line is None or line.product_id != p.id:
                    notice = rx.toast.error("That cart line does not exist.")
                else:
                    self.editing_item_id = line.id
                    self.quantity = line.quantity
                    config = pricing.normalize(line.configuration)
                    self.touched = list(config.fields.keys())
            user_id = self.user_id or None  # resolved from the cookie by load_user() above, in this event
            self.profile_handles = profile_service.handles_for_platform(db, user_id, p.platform)
            profile_id = str(query.get("profile", ""))
            if profile_id:  # "order for this profile": owner-checked, fills the account fields
                try:
                    handle_keys = [f.key for f in detail.fields if f.field_type == "handle"]
                    filled = profile_service.prefill_for_profile(db, user_id, profile_id, p.platform, handle_keys)
                    config = pricing.normalize({**config.as_dict(), "fields": {**config.fields, **filled}})
                    self.touched = list(filled)
                    self.fields_round += 1
                except ServiceError as exc:
                    notice = rx.toast.error(exc.message)
            reorder = str(query.get("reorder", ""))
            if reorder and not edit:
                # "Order again" from the client's order page: that line's configuration and link
                user = self._current_user()
                source = (
                    client_orders.reorder_source(db, user.id, int(reorder))
                    if user is not None and reorder.isdigit() and len(reorder) < 12
                    else None
                )
                if source is None or source.product_id != p.id:
                    notice = rx.toast.error("That order line was not found; configure the service below.")
                else:
                    try:
                        config = pricing.normalize(source.configuration)
                        self.quantity = source.quantity
                        self.touched = list(config.fields.keys())
                    except pricing.ConfigurationInvalid:
                        notice = rx.toast.error("That configuration is not offered any more; pick one below.")
            self.config = config.as_dict()
            self._refresh(db, detail)
            variant = experiments.variant_for(db, p.id, self._visitor())
            experiments.record_exposure(
                db, variant, self.consent_choice, client_ip=self._client_ip(), visitor=self._visitor()
            )
            self._load_saved(db, p.id)
        return notice

    def _load_saved(self, db, product_id: int) -> None:
        user = self._current_user()
        self.saved = (
            []
            if user is None
            else [
                {"id": str(s.id), "name": s.name}
                for s in carts.saved_configurations(db, user_id=user.id, product_id=product_id)
            ]
        )

    def _set(self, **changes: Any) -> dict[str, Any]:
        config = dict(self.config)
        config.update(changes)
        return config

    @rx.event
    def choose_option(self, group_key: str, option_key: str):
        return self._with_detail(lambda detail: configurator.choose_option(detail, self.config, group_key, option_key))

    @rx.event
    def toggle_add_on(self, key: str):
        return self._with_detail(lambda detail: configurator.toggle_add_on(detail, self.config, key))

    @rx.event
    def choose_plan(self, key: str):
        return self._with_detail(lambda detail: configurator.choose_plan(detail, self.config, key))

    @rx.event
    def set_field(self, key: str, value: str):
        return self._set_field_value(key, value)

    def _set_field_value(self, key: str, value: str):
        def change(detail):
            config = configurator.set_field(detail, self.config, key, value)
            if key not in self.touched:
                self.touched = self.touched + [key]
            return config

        return self._with_detail(change)

    @rx.event
    @signed_in_only
    def choose_profile_handle(self, key: str, handle: str):
        """One of the customer's linked profiles, picked under an account-name field."""
        if handle not in self.profile_handles:
            return rx.toast.error("That profile is not linked to your account.")
        self.fields_round += 1
        return self._set_field_value(key, handle)

    def _parse_quantity(self, value: Any) -> int | None:
        text = str(value).strip()
        if not text.isdigit() or not 1 <= int(text) <= pricing.MAX_LINE_QUANTITY:
            self.form_error = f"Choose between 1 and {pricing.MAX_LINE_QUANTITY} packages."
            return None
        return int(text)

    @rx.event
    def set_quantity(self, value: str):
        quantity = self._parse_quantity(value)
        if quantity is None:
            return rx.toast.error(self.form_error)
        self.quantity = quantity
        self.form_error = ""
        return self._with_detail(lambda _detail: self.config)

    def _preset_event(self, db, product_id: int, key: str, action: str) -> None:
        if self._preview_id:
            return  # the editor's preview is not a visitor
        counters.record_preset_event(
            db,
            product_id=product_id,
            preset_key=key,
            action=action,
            source="configurator",
            consent=self.consent_choice,
            client_ip=self._client_ip(),
            visitor=self._visitor(),
        )

    @rx.event
    def apply_preset(self, key: str):
        with session_scope() as db:
            detail = self._detail(db)
            if detail is None:
                return
            try:
                self.config = configurator.apply_preset(detail, self.config, key)
            except ServiceError as exc:
                return rx.toast.error(exc.message)
            self._preset_event(db, detail.product.id, key, "apply")
            self.added = False
            self._refresh(db, detail)

    @rx.event
    def clear_preset(self) -> None:
        with session_scope() as db:
            detail = self._detail(db)
            if detail is None:
                return
            self.config, cleared = configurator.clear_preset(self.config)
            if cleared is None:
                return
            self._preset_event(db, detail.product.id, cleared, "clear")
            self._refresh(db, detail)

    @rx.event
    def add_to_cart(self, form_data: dict[str, Any]):
        """The form sends the typed details (`field:<key>`) and the number of packages; any
        other key (a price, a total) is not ours to accept and refuses the whole submission."""
        if self._preview_id:
            return rx.toast.info("This is the editor's preview: customers add to their cart here.")
        unexpected = [k for k in form_data if k != "quantity" and not str(k).startswith("field:")]
        if unexpected:
            self.form_error = "This form was changed outside the shop; reload the page and try again."
            return rx.toast.error(self.form_error)
        quantity = self.quantity
        if "quantity" in form_data:
            quantity = self._parse_quantity(form_data["quantity"])
            if quantity is None:
                return rx.toast.error(self.form_error)
        fields = {k[len("field:") :]: str(v) for k, v in form_data.items() if k.startswith("field:")}
        config = self._set(fields={**(self.config.get("fields") or {}), **fields})
        self.touched = list({*self.touched, *fields.keys()})
        owner = self._owner()
        with session_scope() as db:
            detail = self._detail(db)
            if detail is None:
                return
            self.config = config
            self.quantity = quantity
            try:
                cart = carts.get_or_create_cart(db, **owner, client_ip=self._client_ip())
                if self.editing_item_id:
                    line = carts.update_line(
                        db,
                        cart,
                        self.editing_item_id,
                        quantity=quantity,
                        raw_configuration=config,
                        visitor=self._visitor(),
                    )
                else:
                    line = carts.add_line(
                        db, cart, self.slug, config, quantity, visitor=self._visitor(), client_ip=self._client_ip()
                    )
            except pricing.ConfigurationInvalid:
                db.rollback()
                self.touched = [f.key for f in detail.fields]
                self._refresh(db, detail)
                self.form_error = "Some details need your attention before this can go in your cart."
                return
            except (carts.CartError, RateLimited) as exc:
                db.rollback()
                self.form_error = str(exc)
                return
            self._refresh(db, detail, line.quote)  # the price just stored, not computed again
            self.added = True
            if self.editing_item_id:
                self.editing_item_id = 0
                return [rx.toast.success("Cart updated"), rx.redirect(routes.CART)]
        return rx.toast.success("Added to your cart")

    @rx.event
    def save_configuration(self, form_data: dict[str, Any]):
        user = self._current_user()
        if user is None:
            return rx.toast.error("Sign in to save configurations.")
        with session_scope() as db:
            try:
                carts.save_configuration(
                    db,
                    user_id=user.id,
                    product_slug=self.slug,
                    name=str(form_data.get("name", "")),
                    raw_configuration=self.config,
                    quantity=self.quantity,
                )
            except (carts.CartError, pricing.ConfigurationInvalid) as exc:
                db.rollback()
                self.save_message = (
                    "Fill in the required details first." if isinstance(exc, pricing.ConfigurationInvalid) else str(exc)
                )
                return
            self._load_saved(db, int(self.product["id"]))
            self.save_message = "Saved."

    @rx.event
    def apply_saved(self, saved_id: str):
        user = self._current_user()
        with session_scope() as db:
            detail = self._detail(db)
            if detail is None:
                return
            try:
                row = configurator.load_saved(
                    db, user_id=user.id if user else None, saved_id=saved_id, product_id=detail.product.id
                )
            except ServiceError as exc:
                return rx.toast.error(exc.message)
            self.config = dict(row.configuration)
            self.quantity = row.quantity
            self._refresh(db, detail)

    @rx.event
    def delete_saved(self, saved_id: str):
        user = self._current_user()
        with session_scope() as db:
            try:
                configurator.delete_saved(db, user_id=user.id if user else None, saved_id=saved_id)
            except ServiceError as exc:
                db.rollback()
                return rx.toast.error(exc.message)
            self._load_saved(db, int(self.product["id"]))
            self.save_message = "Deleted."


def _section(title: str, *children: rx.Component, **props) -> rx.Component:
    return card(rx.heading(title, size="4", margin_bottom="0.75rem"), *children, width="100%", **props)


def _option_button(group: rx.Var, option: rx.Var) -> rx.Component:
    return rx.box(
        rx.hstack(
            rx.vstack(
                rx.text(option["label"], weight="medium"),
                rx.text(option["description"], size="1", color_scheme="gray"),
                spacing="0",
                align="start",
            ),
            rx.spacer(),
            rx.text(option["delta"], weight="bold", size="2"),
            width="100%",
            align="center",
        ),
        on_click=ProductState.choose_option(group["key"], option["key"]),
        class_name="choice",
        id="option-" + group["key"].to(str) + "-" + option["key"].to(str),
        data_selected=option["selected"].to(str),
        padding="0.6rem 0.8rem",
        border_radius="10px",
        cursor="pointer",
        width="100%",
        border=rx.cond(option["selected"], "2px solid var(--violet-9)", "1px solid var(--gray-a5)"),
        background=rx.cond(option["selected"], "var(--violet-a2)", "transparent"),
    )


def _profile_choices(f: rx.Var) -> rx.Component:
    """The customer's linked profiles as one-click choices under an account-name field."""
    return rx.flex(
        rx.text("Your profiles:", size="1", color_scheme="gray"),
        rx.foreach(
            ProductState.profile_handles,
            lambda handle: rx.button(
                handle,
                type="button",
                size="1",
                variant="soft",
                on_click=ProductState.choose_profile_handle(f["key"], handle),
            ),
        ),
        spacing="2",
        wrap="wrap",
        align="center",
        class_name="profile-choices",
    )


def _field(f: rx.Var) -> rx.Component:
    common = dict(
        name="field:" + f["key"].to(str),
        id="field-" + f["key"].to(str),
        placeholder=f["placeholder"],
        default_value=f["value"],
        key=f["key"].to(str) + "-" + ProductState.fields_round.to_string(),
        width="100%",
        on_blur=lambda value: ProductState.set_field(f["key"], value),
    )
    return rx.cond(
        f["visible"],
        rx.vstack(
            rx.hstack(
                rx.text(f["label"], weight="medium", size="2"),
                rx.cond(
                    f["required"],
                    rx.badge("required", variant="soft", size="1"),
                    rx.badge("optional", variant="soft", color_scheme="gray", size="1"),
                ),
                spacing="2",
            ),
            rx.cond(
                f["choice"],
                rx.el.select(
                    rx.el.option("Choose…", value=""),
                    rx.foreach(
                        f["choices"].to(list[dict[str, str]]),
                        lambda c: rx.el.option(c["label"], value=c["value"]),
                    ),
                    name="field:" + f["key"].to(str),
                    id="field-" + f["key"].to(str),
                    default_value=f["value"],
                    key=f["key"].to(str) + "-" + ProductState.fields_round.to_string(),
                    on_change=lambda value: ProductState.set_field(f["key"], value),
                    class_name="native-select",
                    style={"width": "100%", "padding": "8px", "border-radius": "6px"},
                ),
                rx.cond(f["textarea"], rx.text_area(**common, rows="4"), rx.input(**common, type=f["type"], size="3")),
            ),
            rx.cond(f["handle"] & (ProductState.profile_handles.length() > 0), _profile_choices(f)),
            rx.cond(
                f["error"] != "",
                rx.text(f["error"], color="var(--red-11)", size="1", id="error-" + f["key"].to(str)),
                rx.text(f["help"], size="1", color_scheme="gray"),
            ),
            spacing="1",
            width="100%",
            align="start",
        ),
    )


def price_panel() -> rx.Component:
    """The live price card (shared with the catalog editor's preview)."""
    return _price_panel()


def configurator_form() -> rx.Component:
    """The configurator form (shared with the catalog editor's preview)."""
    return _configurator()


def _price_panel() -> rx.Component:
    return card(
        rx.hstack(
            rx.text("Your price", size="2", color_scheme="gray"),
            rx.spacer(),
            rx.text(ProductState.billing_note, size="1", color_scheme="gray"),
        ),
        rx.text(ProductState.total, size="8", weight="bold", id="price-total", letter_spacing="-0.02em"),
        rx.vstack(
            rx.foreach(
                ProductState.breakdown,
                lambda b: rx.hstack(
                    rx.text(
                        b["label"],
                        size="2",
                        weight=rx.cond(b["kind"] == "total", "bold", "regular"),
                        color=rx.cond(b["kind"] == "total", "var(--gray-12)", "var(--gray-11)"),
                    ),
                    rx.spacer(),
                    rx.text(b["amount"], size="2", weight=rx.cond(b["kind"] == "total", "bold", "medium")),
                    width="100%",
                    class_name="breakdown-row",
                    border_top=rx.cond(b["kind"] == "total", "1px solid var(--gray-a5)", "none"),
                    padding_top=rx.cond(b["kind"] == "total", "0.4rem", "0"),
                ),
            ),
            spacing="1",
            width="100%",
            id="price-breakdown",
            margin_y="0.5rem",
        ),
        rx.hstack(
            rx.icon("clock", size=14),
            rx.text(ProductState.estimate, size="2", id="delivery-estimate"),
            color="var(--gray-11)",
        ),
        rx.cond(
            ProductState.average_time != "",
            rx.hstack(
                rx.icon("timer", size=14),
                rx.text("Average time: ", ProductState.average_time, size="2", id="average-time"),
                color="var(--gray-11)",
            ),
        ),
        rx.cond(
            ProductState.calculator != "",
            rx.hstack(
                rx.icon("calculator", size=14),
                rx.text(ProductState.calculator, size="2", id="calculator-text"),
                color="var(--gray-11)",
            ),
        ),
        width="100%",
    )


def _configurator() -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.foreach(
                ProductState.groups,
                lambda g: _section(
                    g["name"],
                    rx.vstack(
                        rx.foreach(g["options"].to(list[dict[str, Any]]), lambda o: _option_button(g, o)),
                        spacing="2",
                        width="100%",
                    ),
                    rx.cond(g["error"] != "", rx.text(g["error"], color="var(--red-11)", size="1")),
                ),
            ),
            rx.cond(
                ProductState.plans.length() > 1,
                _section(
                    "Plan",
                    rx.vstack(
                        rx.foreach(
                            ProductState.plans,
                            lambda pl: rx.box(
                                rx.hstack(
                                    rx.text(pl["name"], weight="medium"),
                                    rx.spacer(),
                                    rx.text(pl["price"], weight="bold"),
                                    rx.text(pl["billing"], size="1", color_scheme="gray"),
                                    width="100%",
                                    align="center",
                                ),
                                on_click=ProductState.choose_plan(pl["key"]),
                                id="plan-" + pl["key"].to(str),
                                cursor="pointer",
                                padding="0.6rem 0.8rem",
                                border_radius="10px",
                                width="100%",
                                border=rx.cond(pl["selected"], "2px solid var(--violet-9)", "1px solid var(--gray-a5)"),
                            ),
                        ),
                        spacing="2",
                        width="100%",
                    ),
                ),
            ),
            rx.cond(
                ProductState.add_ons.length() > 0,
                _section(
                    "Add-ons",
                    rx.vstack(
                        rx.foreach(
                            ProductState.add_ons,
                            lambda a: rx.hstack(
                                rx.checkbox(
                                    checked=a["selected"],
                                    on_change=lambda _v: ProductState.toggle_add_on(a["key"]),
                                    id="addon-" + a["key"].to(str),
                                ),
                                rx.vstack(
                                    rx.text(a["label"], weight="medium"),
                                    rx.text(a["description"], size="1", color_scheme="gray"),
                                    spacing="0",
                                    align="start",
                                ),
                                rx.spacer(),
                                rx.text(a["price"], weight="bold", size="2"),
                                width="100%",
                                align="center",
                            ),
                        ),
                        spacing="3",
                        width="100%",
                    ),
                ),
            ),
            _section(
                "Your details",
                rx.vstack(rx.foreach(ProductState.fields, _field), spacing="3", width="100%"),
                rx.hstack(
                    rx.text("Packages", size="2", weight="medium"),
                    rx.input(
                        default_value=ProductState.quantity.to(str),
                        on_blur=ProductState.set_quantity,
                        type="number",
                        min="1",
                        max="100",
                        width="90px",
                        id="quantity",
                        name="quantity",
                        key=ProductState.quantity.to(str),
                    ),
                    spacing="3",
                    align="center",
                    margin_top="0.75rem",
                ),
            ),
            rx.cond(
                ProductState.form_error != "",
                rx.callout(
                    ProductState.form_error, icon="triangle-alert", color_scheme="red", width="100%", id="form-error"
                ),
            ),
            rx.hstack(
                rx.button(
                    rx.icon("shopping-cart", size=16),
                    rx.cond(
                        ProductState.preview_mode,
                        "Add to cart (preview)",
                        rx.cond(ProductState.editing_item_id > 0, "Update cart line", "Add to cart"),
                    ),
                    size="4",
                    type="submit",
                    id="add-to-cart",
                    flex="1",
                ),
                rx.cond(
                    ProductState.added,
                    rx.link(
                        rx.button("View cart", size="4", variant="soft", type="button"),
                        href=routes.CART,
                        id="view-cart",
                    ),
                ),
                width="100%",
                spacing="3",
            ),
            spacing="4",
            width="100%",
        ),
        on_submit=ProductState.add_to_cart,
        reset_on_submit=False,
        width="100%",
    )


def _saved_configurations() -> rx.Component:
    return rx.cond(
        ProductState.signed_in,
        _section(
            "Saved configurations",
            rx.hstack(
                rx.foreach(
                    ProductState.saved,
                    lambda s: rx.hstack(
                        rx.button(s["name"], variant="soft", size="1", on_click=ProductState.apply_saved(s["id"])),
                        rx.icon_button(
                            rx.icon("x", size=12),
                            variant="ghost",
                            size="1",
                            color_scheme="gray",
                            on_click=ProductState.delete_saved(s["id"]),
                            aria_label="Delete " + s["name"],
                            id="delete-saved-" + s["id"],
                        ),
                        spacing="1",
                        align="center",
                    ),
                ),
                wrap="wrap",
                spacing="2",
            ),
            rx.form(
                rx.hstack(
                    rx.input(name="name", placeholder="Name this setup", id="save-name", flex="1"),
                    rx.button("Save", type="submit", variant="outline", id="save-configuration"),
                    width="100%",
                ),
                on_submit=ProductState.save_configuration,
                reset_on_submit=True,
                margin_top="0.5rem",
            ),
            rx.text(ProductState.save_message, size="1", color_scheme="gray"),
        ),
    )


def _product_skeleton() -> rx.Component:
    """The two columns at their final size: the image box, the price card, the title, the
    presets and the first configurator cards (taller than the fold)."""
    return rx.grid(
        rx.vstack(
            skeleton_block("auto", radius="16px", aspect_ratio=PRODUCT_IMAGE_RATIO),
            skeleton_card(
                rx.text(skeleton_text(width="6em"), size="2"),
                rx.text(skeleton_text(width="4em"), size="8"),
                rx.text(skeleton_text(3), size="2", margin_y="0.5rem"),
                width="100%",
            ),
            spacing="4",
            width="100%",
        ),
        rx.vstack(
            rx.badge(skeleton_text(width="7em"), variant="soft", radius="full", color_scheme="gray"),
            rx.heading(skeleton_text(width="14em"), size="8", width="100%"),
            rx.text(skeleton_text(width="22em"), size="4", width="100%"),
            rx.hstack(
                *[skeleton_block("56px", width="150px", radius="8px") for _ in range(3)], spacing="2", wrap="wrap"
            ),
            skeleton_card(
                rx.heading(skeleton_text(width="8em"), size="4", margin_bottom="0.75rem"),
                skeleton_block("260px", radius="10px"),
                width="100%",
            ),
            skeleton_card(
                rx.heading(skeleton_text(width="8em"), size="4", margin_bottom="0.75rem"),
                skeleton_block("200px", radius="10px"),
                width="100%",
            ),
            spacing="4",
            width="100%",
            align="start",
        ),
        columns=rx.breakpoints(initial="1", md="2"),
        spacing="6",
        width="100%",
        aria_busy="true",
        id="product-skeleton",
    )


def preset_buttons() -> rx.Component:
    """The one-click presets above the configurator (shared with the editor's preview)."""
    return rx.cond(
        ProductState.presets.length() > 0,
        rx.hstack(
            rx.foreach(
                ProductState.presets,
                lambda pr: rx.button(
                    rx.hstack(
                        rx.cond(
                            pr["image"] != "",
                            rx.image(
                                src=pr["image"],
                                alt="",
                                width="32px",
                                height="32px",
                                object_fit="cover",
                                border_radius="6px",
                            ),
                        ),
                        rx.vstack(
                            rx.cond(
                                pr["badge"] != "",
                                rx.badge(pr["badge"], size="1", variant="soft", color_scheme="amber", radius="full"),
                            ),
                            rx.text(pr["label"], weight="bold", size="2"),
                            rx.text(pr["description"], size="1"),
                            spacing="0",
                            align="start",
                        ),
                        spacing="2",
                        align="center",
                    ),
                    variant=rx.cond(pr["active"], "solid", "surface"),
                    size="3",
                    height="auto",
                    padding="0.6rem 0.9rem",
                    on_click=ProductState.apply_preset(pr["key"]),
                    id="preset-" + pr["key"].to(str),
                ),
            ),
            rx.cond(
                ProductState.config["preset"],
                rx.button(
                    "Clear preset", variant="ghost", size="1", on_click=ProductState.clear_preset, id="clear-preset"
                ),
            ),
            spacing="2",
            wrap="wrap",
            id="presets",
        ),
    )


@page(
    route=routes.PRODUCT,
    title="Service",
    on_load=ProductState.load_product,
    head={
        "title": ProductState.head_title,
        "description": ProductState.head_description,
        "image": ProductState.head_image,
    },
)
def product_page() -> rx.Component:
    presets = preset_buttons()
    detail = rx.grid(
        rx.vstack(
            rx.image(
                src=ProductState.highlight["image"],
                alt=ProductState.product["title"],
                width="100%",
                border_radius="16px",
                id="product-hero-image",
                background="var(--gray-3)",
                aspect_ratio=PRODUCT_IMAGE_RATIO,
                # contain: artwork with text is never cut (card variants are already 4:3)
                object_fit="contain",
            ),
            rx.cond(
                ProductState.images.length() > 1,
                rx.hstack(
                    rx.foreach(
                        ProductState.images,
                        lambda m: rx.image(
                            src=m["thumb"],
                            alt=m["alt"],
                            width="72px",
                            height="72px",
                            border_radius="8px",
                            object_fit="contain",
                            background="var(--gray-3)",
                        ),
                    ),
                    spacing="2",
                    id="media-gallery",
                ),
            ),
            rx.cond(
                ProductState.highlight["tagline"] != "",
                card(
                    rx.hstack(
                        rx.icon("sparkles", size=18, color="var(--violet-11)"),
                        rx.text(ProductState.highlight["tagline"], weight="bold", id="blueprint-tagline"),
                        spacing="2",
                    ),
                    width="100%",
                ),
            ),
            _price_panel(),
            _section(
                "About this service",
                rx.text(ProductState.product["description"], size="3", white_space="pre-wrap"),
                rx.cond(
                    ProductState.product["subscription"] == "1",
                    rx.text(
                        "Stop or resume renewals any time in ",
                        rx.link(
                            "My account → Subscriptions", href=routes.ACCOUNT_SUBSCRIPTIONS, id="manage-subscriptions"
                        ),
                        ".",
                        size="2",
                        color_scheme="gray",
                    ),
                ),
            ),
            _saved_configurations(),
            spacing="4",
            width="100%",
        ),
        rx.vstack(
            rx.badge(
                platform_icon(ProductState.product["platform"]),
                ProductState.product["category"],
                variant="soft",
                radius="full",
            ),
            rx.heading(
                ProductState.product["title"], size="8", weight="bold", letter_spacing="-0.02em", id="product-title"
            ),
            rx.text(ProductState.product["tagline"], size="4", color_scheme="gray"),
            presets,
            _configurator(),
            spacing="4",
            width="100%",
            align="start",
        ),
        columns=rx.breakpoints(initial="1", md="2"),
        spacing="6",
        width="100%",
    )
    return storefront_page(
        rx.link(
            rx.hstack(rx.icon("arrow-left", size=14), rx.text("All services", size="2")),
            href=routes.SERVICES,
            margin_bottom="1rem",
            display="inline-block",
        ),
        rx.cond(
            ProductState.loaded,
            rx.cond(
                ProductState.found,
                detail,
                empty_state(
                    "search-x",
                    "This service isn't available",
                    "It may have been renamed or retired. Browse the current catalog instead.",
                    rx.link(rx.button("Browse services"), href=routes.SERVICES),
                ),
            ),
            _product_skeleton(),
        ),
        bundles_section(),
    )
