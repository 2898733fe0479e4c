"""Carts for guests (a random token in a cookie, only its SHA-256 stored) and accounts,
merged at sign-in. Every change re-validates and re-prices through the pricing service;
prices stored on cart items are only what the server last computed."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from smplat.models.base import utcnow
from smplat.models.carts import Cart, CartItem, CartStatus
from smplat.models.catalog import Product, ProductStatus
from smplat.services import accounts, catalog, pricing, rate_limits
from smplat.services.accounts import hash_token, new_token
from smplat.services.catalog import ProductDetail
from smplat.services.money import format_money
from smplat.services.pricing import ConfigurationInvalid, Quote
from smplat.settings import get_settings

CART_COOKIE = "smplat_cart"
MAX_CART_LINES = 20


class CartError(ValueError):
    """A cart action that cannot be done; `errors` maps where to a message (like ConfigurationInvalid)."""

    def __init__(self, message: str, errors: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or {}


def visitor_key(guest_token: str | None) -> str | None:
    """The experiment identity of a browser: the hash of its cart cookie."""
    return hash_token(guest_token) if guest_token else None


# A guest cart cookie is `<random>.<mac>`: only the server (holding SMPLAT_SECRET_KEY) can make
# one, so a browser cannot rotate made-up values to get fresh carts (and fresh 20-line caps);
# a value we did not issue is replaced, never turned into a cart.
_GUEST_TOKEN_MAX = 200


def _guest_mac(nonce: str) -> str:
    key = hashlib.sha256(b"smplat-guest-cart:" + get_settings().secret().encode("utf-8")).digest()
    return hmac.new(key, nonce.encode("utf-8"), hashlib.sha256).hexdigest()[:32]


def sign_guest_token(nonce: str) -> str:
    """The issued cart cookie for a random `nonce` (tests pass a fixed one)."""
    return f"{nonce}.{_guest_mac(nonce)}"


def new_guest_token() -> str:
    return sign_guest_token(new_token())


def is_issued_guest_token(value: str | None) -> bool:
    """Did this shop make this cart cookie value?"""
    if not value or len(value) > _GUEST_TOKEN_MAX:
        return False
    nonce, _, mac = value.rpartition(".")
    return bool(nonce) and hmac.compare_digest(mac, _guest_mac(nonce))


def guest_token_for(cookie_value: str | None) -> str:
    """The cart cookie a browser should carry: its own when we issued it, else a fresh one."""
    return cookie_value if is_issued_guest_token(cookie_value) else new_guest_token()


def find_cart(session: Session, *, user_id: int | None, guest_token: str | None) -> Cart | None:
    if user_id:
        return (
            session.execute(
                select(Cart)
                .where(Cart.user_id == user_id, Cart.status == CartStatus.ACTIVE.value)
                .order_by(Cart.id.desc())
            )
            .scalars()
            .first()
        )
    if guest_token:
        return (
            session.execute(
                select(Cart).where(
                    Cart.guest_token_hash == hash_token(guest_token), Cart.status == CartStatus.ACTIVE.value
                )
            )
            .scalars()
            .first()
        )
    return None


def get_or_create_cart(
    session: Session, *, user_id: int | None, guest_token: str | None, client_ip: str | None = None
) -> Cart:
    """The owner's active cart, created when there is none. A new cart counts against the
    `cart_create_ip` rate limit (RateLimited, nothing stored), and a guest cart is made only for
    a cookie value we issued (CartError otherwise: the page replaces the cookie)."""
    cart = find_cart(session, user_id=user_id, guest_token=guest_token)
    if cart is not None:
        return cart
    if not user_id and not guest_token:
        raise CartError("Your browser did not keep the cart cookie; allow cookies to shop as a guest.")
    if not user_id and not is_issued_guest_token(guest_token):
        raise CartError("Your cart cookie was not made by this shop; reload the page to get a new one.")
    rate_limits.hit("cart_create_ip", client_ip)
    cart = Cart(user_id=user_id or None, guest_token_hash=None if user_id else hash_token(guest_token))
    try:
        with session.begin_nested():
            session.add(cart)
            session.flush()
    except IntegrityError:  # a second tab created it first
        cart = find_cart(session, user_id=user_id, guest_token=guest_token)
        if cart is None:
            raise CartError("This cart is closed; reload the page to start a new one.") from None
    return cart


class DetailCache:
    """Product details by id for one request, so a cart of N lines costs one load per product."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._by_id: dict[int, ProductDetail | None] = {}

    def get(self, product_id: int) -> ProductDetail | None:
        if product_id not in self._by_id:
            slug = self.session.execute(
                select(Product.slug).where(Product.id == product_id, Product.status == ProductStatus.ACTIVE.value)
            ).scalar()
            self._by_id[product_id] = catalog.get_product_detail(self.session, slug) if slug else None
        return self._by_id[product_id]


def _store_quote(item: CartItem, quote: Quote) -> None:
    item.configuration = quote.configuration.as_dict()
    item.quantity = quote.quantity
    item.unit_price_minor = quote.unit_price_minor
    item.line_total_minor = quote.total_minor
    item.price_breakdown = quote.price_record()
    item.updated_at = utcnow()


@dataclass(frozen=True)
class StoredLine:
    """A cart line just written, with the quote it was priced at (so the page that wrote it
    shows that price instead of computing it again)."""

    item: CartItem
    quote: Quote


def add_item(
    session: Session, cart: Cart, product_slug: str, raw_configuration: Any, quantity: int, *, visitor: str | None
) -> CartItem:
    """Validate and price, then store. Raises ConfigurationInvalid (nothing stored) or CartError."""
    return add_line(session, cart, product_slug, raw_configuration, quantity, visitor=visitor).item


def add_line(
    session: Session,
    cart: Cart,
    product_slug: str,
    raw_configuration: Any,
    quantity: int,
    *,
    visitor: str | None,
    client_ip: str | None = None,
    fields: str = pricing.FIELDS_CHECK,
) -> StoredLine:
    """`add_item`, returning the quote too: the line is priced once. Counts against the
    `cart_add_ip` and `cart_add_cart` rate limits first (RateLimited: nothing stored).
    `fields=FIELDS_COLLECT` stores a line whose typed details (a link) are still to come: a
    bundle added in one click; the cart asks for them and checkout waits for them."""
    rate_limits.hit_all([("cart_add_ip", client_ip), ("cart_add_cart", str(cart.id) if cart.id else None)])
    detail = catalog.get_product_detail(session, product_slug)
    if detail is None:
        raise CartError("This service is not available any more.")
    quote = pricing.price_for(session, detail, raw_configuration, quantity=quantity, visitor=visitor, fields=fields)
    items = list_items(session, cart)
    if items and any(i.product_id for i in items) and cart.currency != detail.product.currency:
        raise CartError("Your cart holds another currency; check it out first.")
    if len(items) >= MAX_CART_LINES:
        raise CartError(f"A cart holds at most {MAX_CART_LINES} lines.")
    item = CartItem(cart_id=cart.id, product_id=detail.product.id)
    _store_quote(item, quote)
    cart.currency = detail.product.currency
    cart.updated_at = utcnow()
    session.add(item)
    session.flush()
    return StoredLine(item, quote)


def add_bundle(
    session: Session, cart: Cart, bundle_slug: str, *, visitor: str | None, client_ip: str | None = None
) -> list[StoredLine]:
    """A bundle card's one click: the primary product (its featured preset) and every bundled
    product (the preset the bundle names), one line each, all or none (CartError,
    ConfigurationInvalid or RateLimited: the caller rolls back). Links and handles are the
    customer's to type, so the lines wait for them in the cart; the bundle discount shows at once."""
    from smplat.services import bundles

    offer = next(iter(bundles.list_bundles(session, bundle_slug=str(bundle_slug or ""), limit=1)), None)
    if offer is None:
        raise CartError("This bundle is not available any more.")
    wanted = [(offer.primary_slug, offer.primary_preset)] + [(i.product_slug, i.preset_key) for i in offer.items]
    if len(list_items(session, cart)) + len(wanted) > MAX_CART_LINES:
        raise CartError(f"A cart holds at most {MAX_CART_LINES} lines.")
    stored = []
    for slug, preset_key in wanted:
        detail = catalog.get_product_detail(session, slug)
        if detail is None:
            raise CartError("This bundle is not available any more.")
        configuration = (
            pricing.from_preset(detail, preset_key).as_dict()
            if preset_key
            else pricing.default_configuration(detail).as_dict()
        )
        stored.append(
            add_line(
                session,
                cart,
                slug,
                configuration,
                1,
                visitor=visitor,
                client_ip=client_ip,
                fields=pricing.FIELDS_COLLECT,
            )
        )
    return stored


def _owned_item(session: Session, cart: Cart, item_id: Any) -> CartItem:
    if isinstance(item_id, bool) or not isinstance(item_id, int):
        raise CartError("That cart line does not exist.")
    item = session.get(CartItem, item_id)
    if item is None or item.cart_id != cart.id:
        raise CartError("That cart line does not exist.")
    return item


def owned_item(session: Session, *, owner: dict[str, Any], item_id: Any) -> CartItem | None:
    """The line `item_id` if it is in the active cart of this owner (user_id / guest_token), else None."""
    cart = find_cart(session, user_id=owner.get("user_id"), guest_token=owner.get("guest_token"))
    if cart is None:
        return None
    try:
        return _owned_item(session, cart, item_id)
    except CartError:
        return None


def update_item(
    session: Session,
    cart: Cart,
    item_id: Any,
    *,
    quantity: Any = None,
    raw_configuration: Any = None,
    visitor: str | None,
) -> CartItem:
    """Change quantity and/or configuration; re-validated and re-priced, or refused unchanged."""
    return update_line(
        session, cart, item_id, quantity=quantity, raw_configuration=raw_configuration, visitor=visitor
    ).item


def update_line(
    session: Session,
    cart: Cart,
    item_id: Any,
    *,
    quantity: Any = None,
    raw_configuration: Any = None,
    visitor: str | None,
) -> StoredLine:
    """`update_item`, returning the quote too: the line is priced once."""
    item = _owned_item(session, cart, item_id)
    detail = DetailCache(session).get(item.product_id)
    if detail is None:
        raise CartError("This service is not available any more; remove it from your cart.")
    new_quantity = item.quantity if quantity is None else quantity
    new_configuration = item.configuration if raw_configuration is None else raw_configuration
    quote = pricing.price_for(session, detail, new_configuration, quantity=new_quantity, visitor=visitor)
    _store_quote(item, quote)
    cart.updated_at = utcnow()
    session.flush()
    return StoredLine(item, quote)


def remove_item(session: Session, cart: Cart, item_id: Any) -> None:
    item = _owned_item(session, cart, item_id)
    session.delete(item)
    cart.updated_at = utcnow()
    session.flush()


def list_items(session: Session, cart: Cart) -> list[CartItem]:
    return list(session.execute(select(CartItem).where(CartItem.cart_id == cart.id).order_by(CartItem.id)).scalars())


@dataclass
class PricedLine:
    item: CartItem
    detail: ProductDetail | None
    quote: Quote | None
    errors: dict[str, str] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        currency = self.quote.currency if self.quote else (self.detail.product.currency if self.detail else "EUR")
        config = pricing.normalize(self.item.configuration) if self.item.configuration else pricing.Configuration()
        billing = self.quote.billing if self.quote else "one_time"
        return {
            "id": self.item.id,
            "slug": self.detail.product.slug if self.detail else "",
            "title": self.detail.product.title if self.detail else "Unavailable service",
            "image": next((m.thumb_url or m.card_url or m.url for m in self.detail.media), "") if self.detail else "",
            "summary": pricing.summary(self.detail, config) if self.detail else "",
            "delivery": pricing.delivery_promise(self.detail, config, quantity=self.item.quantity).text
            if self.detail
            else "",
            "fields": pricing.describe_fields(config.fields, pricing.field_labels(self.detail) if self.detail else {}),
            "discount": (
                f"{pricing.bundle_label(self.quote.bundle['title'], self.quote.bundle['discount_bps'])}: "
                f"{format_money(-self.quote.bundle['discount_minor'], currency)}"
                if self.quote and self.quote.bundle
                else ""
            ),
            "quantity": self.item.quantity,
            "unit_price": format_money(
                self.quote.unit_price_minor if self.quote else self.item.unit_price_minor, currency
            ),
            "total": format_money(self.quote.total_minor if self.quote else self.item.line_total_minor, currency),
            "billing": "" if billing == "one_time" else f"every {self.quote.interval}" if self.quote else "",
            "error": "; ".join(self.errors.values()),
        }


@dataclass
class PricedCart:
    cart: Cart | None
    lines: list[PricedLine]

    @property
    def ok(self) -> bool:
        return bool(self.lines) and all(not line.errors for line in self.lines)

    @property
    def currency(self) -> str:
        return self.cart.currency if self.cart else "EUR"

    @property
    def total_minor(self) -> int:
        return sum(line.quote.total_minor for line in self.lines if line.quote)

    @property
    def bundle_savings(self) -> list[dict[str, str]]:
        """One row per bundle applied: its label and what it takes off the cart ("-€0.98")."""
        saved: dict[str, list[Any]] = {}
        for line in self.lines:
            bundle = line.quote.bundle if line.quote else None
            if bundle:
                entry = saved.setdefault(bundle["slug"], [bundle["title"], bundle["discount_bps"], 0])
                entry[2] += bundle["discount_minor"]
        return [
            {"label": pricing.bundle_label(title, bps), "amount": format_money(-amount, self.currency)}
            for title, bps, amount in saved.values()
        ]


def price_cart(
    session: Session, cart: Cart | None, *, visitor: str | None, known: dict[int, Quote] | None = None
) -> PricedCart:
    """Re-validate and re-price every line now; lines that broke carry their errors.

    A read: nothing is written (the price stored on a line is what it was priced at when it
    was added or changed; what the customer pays is always this fresh quote). `known` holds
    quotes computed moments ago in the same event (the line just changed), used as they are
    so no price is computed twice."""
    if cart is None:
        return PricedCart(None, [])
    cache = DetailCache(session)
    lines = []
    for item in list_items(session, cart):
        detail = cache.get(item.product_id)
        if detail is None:
            lines.append(PricedLine(item, None, None, {"product": "This service is not available any more."}))
            continue
        quote = (known or {}).get(item.id)
        if quote is None:
            try:
                # a detail still to type (a bundle's line) is shown beside the price, not instead of it
                quote = pricing.price_for(
                    session,
                    detail,
                    item.configuration,
                    quantity=item.quantity,
                    visitor=visitor,
                    fields=pricing.FIELDS_COLLECT,
                )
            except ConfigurationInvalid as exc:
                lines.append(PricedLine(item, detail, None, exc.errors))
                continue
        lines.append(PricedLine(item, detail, quote, dict(quote.field_errors)))
    # the cart-level rule: bundle discounts for what is bought together (pricing rule 5)
    priced = [line for line in lines if line.quote is not None]
    for line, discounted in zip(
        priced, pricing.with_bundle_discounts(session, [line.quote for line in priced]), strict=True
    ):
        line.quote = discounted
    return PricedCart(cart, lines)


def merge_guest_cart(session: Session, guest_token: str | None, user_id: int) -> int:
    """At sign-in: move the guest cart's lines into the account's cart. Returns lines moved."""
    if not guest_token:
        return 0
    guest = find_cart(session, user_id=None, guest_token=guest_token)
    if guest is None or guest.user_id:
        return 0
    items = list_items(session, guest)
    if not items:
        guest.status = CartStatus.MERGED.value
        return 0
    target = get_or_create_cart(session, user_id=user_id, guest_token=None)
    existing = len(list_items(session, target))
    moved = 0
    for item in items:
        if existing + moved >= MAX_CART_LINES:
            break
        item.cart_id = target.id
        moved += 1
    target.currency = guest.currency if not existing else target.currency
    target.updated_at = utcnow()
    guest.status = CartStatus.MERGED.value
    session.flush()
    return moved


def merge_on_sign_in(session: Session, session_token: str, guest_token: str | None) -> int:
    """At sign-in: what the visitor put in the cart as a guest follows them into the account
    the new session belongs to (an unknown, revoked or inactive session merges nothing).
    Returns the lines moved."""
    if not guest_token:
        return 0
    user = accounts.resolve_session(session, session_token)
    if user is None:
        return 0
    return merge_guest_cart(session, guest_token, user.id)


def item_count(session: Session, *, user_id: int | None, guest_token: str | None) -> int:
    cart = find_cart(session, user_id=user_id, guest_token=guest_token)
    return len(list_items(session, cart)) if cart else 0


# --- saved configurations (signed-in customers) -------------------------------------------


def save_configuration(
    session: Session, *, user_id: int, product_slug: str, name: str, raw_configuration: Any, quantity: int
) -> Any:
    """Validate, then store under a name (the same name overwrites). Raises CartError/ConfigurationInvalid."""
    from smplat.models.merchandising import SavedConfiguration

    name = (name or "").strip()
    if not 1 <= len(name) <= 80:
        raise CartError("Give the configuration a name of 1 to 80 characters.", {"name": "1 to 80 characters"})
    detail = catalog.get_product_detail(session, product_slug)
    if detail is None:
        raise CartError("This service is not available any more.")
    quote = pricing.price_for(session, detail, raw_configuration, quantity=quantity)
    row = (
        session.execute(
            select(SavedConfiguration).where(
                SavedConfiguration.user_id == user_id,
                SavedConfiguration.product_id == detail.product.id,
                SavedConfiguration.name == name,
            )
        )
        .scalars()
        .first()
    )
    if row is None:
        row = SavedConfiguration(user_id=user_id, product_id=detail.product.id, name=name)
        session.add(row)
    row.configuration = quote.configuration.as_dict()
    row.quantity = quantity
    row.updated_at = utcnow()
    session.flush()
    return row


def saved_configurations(session: Session, *, user_id: int, product_id: int) -> list[Any]:
    from smplat.models.merchandising import SavedConfiguration

    return list(
        session.execute(
            select(SavedConfiguration)
            .where(SavedConfiguration.user_id == user_id, SavedConfiguration.product_id == product_id)
            .order_by(SavedConfiguration.updated_at.desc())
        ).scalars()
    )
