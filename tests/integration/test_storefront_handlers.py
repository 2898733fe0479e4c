"""The configurator, cart, checkout and Admin → Sales handlers called directly, the way a
crafted websocket event calls them: tampered prices, quantities, option keys and field
values are refused with a message and store nothing; cart lines are edited and re-priced;
saved configurations are the owner's only; marketing-card presets and experiment
exposures are recorded only with consent; the guest cart follows the visitor at sign-in."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from smplat.api.app import build_api
from smplat.db import session_scope
from smplat.models.accounts import Role, User
from smplat.models.carts import Cart, CartItem
from smplat.models.checkout import CheckoutSession
from smplat.models.merchandising import (
    PresetEvent,
    PriceExperiment,
    PriceExperimentVariant,
    SavedConfiguration,
)
from smplat.models.orders import Order
from smplat.services import accounts, carts, catalog, counters, experiments
from smplat.services.errors import ErrorCode
from smplat.services.seed import seed_demo
from smplat.ui.pages.admin.sales import SalesState
from smplat.ui.pages.storefront.cart import CartState
from smplat.ui.pages.storefront.product import ProductState
from smplat.ui.state.auth import STAFF_ONLY_MESSAGE

pytestmark = pytest.mark.integration

SLUG = "instagram-followers"  # PRODUCT_SLUG of the product_state fixture
GUEST = carts.sign_guest_token("guest-cart-token-1")  # GUEST_CART, the cart cookie of shopper_state


@pytest.fixture
def state_for(shopper_state):
    return shopper_state


def count(model) -> int:
    with session_scope() as db:
        return db.execute(select(func.count()).select_from(model)).scalar_one()


def cart_lines() -> list[tuple[int, int, dict]]:
    with session_scope() as db:
        return [
            (i.quantity, i.line_total_minor, i.configuration["options"])
            for i in db.execute(select(CartItem).order_by(CartItem.id)).scalars()
        ]


@pytest.fixture
def seeded(sqlite_url: str) -> str:
    with session_scope() as db:
        seed_demo(db)
    return sqlite_url


def _user_id(email: str) -> int:
    with session_scope() as db:
        return db.execute(select(User.id).where(User.email == email)).scalar_one()


# --- tampered input at the configurator ----------------------------------------------------


@pytest.mark.parametrize(
    ("label", "form", "message"),
    [
        ("a price in the form", {"field:username": "@brand", "price": "0.01"}, "changed outside the shop"),
        ("a total in the form", {"field:username": "@brand", "total_minor": "1"}, "changed outside the shop"),
        ("a negative quantity", {"field:username": "@brand", "quantity": "-3"}, "Choose between 1 and 100 packages."),
        ("a huge quantity", {"field:username": "@brand", "quantity": "100000"}, "Choose between 1 and 100 packages."),
        (
            "a fractional quantity",
            {"field:username": "@brand", "quantity": "1.5"},
            "Choose between 1 and 100 packages.",
        ),
        ("a handle breaking its rule", {"field:username": "not a handle!"}, "need your attention"),
        ("an empty required handle", {"field:username": ""}, "need your attention"),
    ],
)
async def test_configurator_refuses_tampered_submissions_and_stores_nothing(
    seeded, label, form, message, product_state
):
    # given a guest on the product page with the popular preset
    state = await product_state()
    assert state.total == "€12.00"
    # when the crafted form is submitted
    state.add_to_cart(form)
    # then a clear message, and no cart or cart line exists
    assert message in state.form_error
    assert (count(Cart), count(CartItem)) == (0, 0)


async def test_a_field_failing_its_rule_says_why_next_to_the_field(seeded, product_state):
    state = await product_state()
    state.add_to_cart({"field:username": "not a handle!"})
    username = next(f for f in state.fields if f["key"] == "username")
    assert username["error"] == "Use 1–30 letters, numbers, dots or underscores, e.g. @yourbrand."
    assert count(CartItem) == 0


@pytest.mark.parametrize(
    ("label", "call", "message"),
    [
        ("unknown option", lambda s: s.choose_option("package", "999999"), "That option does not exist."),
        ("unknown group", lambda s: s.choose_option("price", "1000"), "That option does not exist."),
        ("unknown add-on", lambda s: s.toggle_add_on("free-money"), "That add-on does not exist."),
        ("unknown plan", lambda s: s.choose_plan("lifetime-free"), "That plan does not exist."),
        ("unknown field", lambda s: s.set_field("price_minor", "1"), "That detail is not asked for this service."),
        ("unknown preset", lambda s: s.apply_preset("free"), "That preset is not offered for this service."),
        ("quantity below one", lambda s: s.set_quantity("0"), "Choose between 1 and 100 packages."),
    ],
)
async def test_configurator_refuses_choices_the_product_does_not_offer(
    seeded, label, call, message, handler_events, is_toast_error, product_state
):
    # given the popular configuration
    state = await product_state(consent="all")
    before = (dict(state.config), state.quantity, state.total)
    # when a crafted event names something the product does not offer
    events = handler_events(call(state))
    # then a message, the configuration and price are unchanged, and no preset event is stored
    assert any(is_toast_error(e, message) for e in events)
    assert (dict(state.config), state.quantity, state.total) == before
    assert (count(CartItem), count(PresetEvent)) == (0, 0)


async def test_a_valid_submission_stores_the_server_price(seeded, product_state):
    state = await product_state()
    state.add_to_cart({"field:username": "@brand", "quantity": "2"})
    assert state.form_error == "" and state.added is True
    assert cart_lines() == [(2, 2400, {"package": ["1000"], "speed": ["standard"]})]


# --- cart: edit a line's configuration, tampered cart and checkout events -------------------


async def test_editing_a_cart_line_reprices_and_revalidates_it(seeded, handler_events, product_state, state_for):
    # given a guest cart line with the popular preset
    state = await product_state()
    state.add_to_cart({"field:username": "@brand"})
    with session_scope() as db:
        item_id = db.execute(select(CartItem.id)).scalar_one()
    # when the line is opened from /cart, the package changed and the form sent
    editor = await product_state({"edit": str(item_id)})
    assert (editor.editing_item_id, editor.total) == (item_id, "€12.00")
    editor.choose_option("package", "2500")
    assert editor.total == "€29.00"
    events = handler_events(editor.add_to_cart({"field:username": "@brand.new", "quantity": "2"}))
    # then the same line holds the new configuration at the server's price, and the page returns to the cart
    assert cart_lines() == [(2, 5800, {"package": ["2500"], "speed": ["standard"]})]
    assert any("/cart" in str(e) for e in events)
    cart = await state_for(CartState, "/cart")
    cart.load_cart()
    assert (cart.total, cart.rows[0]["fields"]) == (
        "€58.00",
        "Instagram username: @brand.new",
    )  # the label, never the key


async def test_editing_a_line_with_a_broken_field_keeps_the_line_as_it_was(seeded, product_state):
    state = await product_state()
    state.add_to_cart({"field:username": "@brand"})
    with session_scope() as db:
        item_id = db.execute(select(CartItem.id)).scalar_one()
    editor = await product_state({"edit": str(item_id)})
    editor.choose_option("package", "2500")
    editor.add_to_cart({"field:username": "not a handle!"})
    assert "need your attention" in editor.form_error
    assert cart_lines() == [(1, 1200, {"package": ["1000"], "speed": ["standard"]})]


async def test_someone_elses_cart_line_cannot_be_opened_for_editing(
    seeded, handler_events, is_toast_error, product_state, state_for
):
    # given a line in another browser's cart
    other = await product_state(cart_token="someone-else")
    other.add_to_cart({"field:username": "@theirs"})
    with session_scope() as db:
        item_id = db.execute(select(CartItem.id)).scalar_one()
    # when this guest opens it for editing
    state = await state_for(ProductState, f"/services/{SLUG}", query={"edit": str(item_id)}, params={"slug": SLUG})
    events = handler_events(state.load_product())
    # then refused: a message, not in edit mode, their line untouched, no cart for this guest
    assert any(is_toast_error(e, "That cart line does not exist.") for e in events)
    assert state.editing_item_id == 0
    state.add_to_cart({"field:username": "@mine"})
    assert [line[0:2] for line in cart_lines()] == [(1, 1200), (1, 1200)]
    with session_scope() as db:
        assert [i.configuration["fields"] for i in db.execute(select(CartItem).order_by(CartItem.id)).scalars()] == [
            {"username": "@theirs"},
            {"username": "@mine"},
        ]


@pytest.mark.parametrize(("label", "delta"), [("jump of ten", 10), ("jump down", -5), ("zero", 0)])
async def test_cart_quantity_moves_one_step_only(
    seeded, label, delta, handler_events, is_toast_error, product_state, state_for
):
    state = await product_state()
    state.add_to_cart({"field:username": "@brand"})
    cart = await state_for(CartState, "/cart")
    cart.load_cart()
    events = handler_events(cart.change_quantity(cart.rows[0]["id"], delta))
    assert any(is_toast_error(e, "one package at a time") for e in events)
    assert cart_lines() == [(1, 1200, {"package": ["1000"], "speed": ["standard"]})]


async def test_cart_refuses_a_line_that_is_not_in_it(seeded, handler_events, is_toast_error, product_state, state_for):
    other = await product_state(cart_token="someone-else")
    other.add_to_cart({"field:username": "@theirs"})
    with session_scope() as db:
        item_id = db.execute(select(CartItem.id)).scalar_one()
    state = await product_state()
    state.add_to_cart({"field:username": "@mine"})
    cart = await state_for(CartState, "/cart")
    cart.load_cart()
    events = handler_events(cart.change_quantity(item_id, 1)) + handler_events(cart.remove(item_id))
    assert sum(is_toast_error(e, "That cart line does not exist.") for e in events) == 2
    assert [line[0:2] for line in cart_lines()] == [(1, 1200), (1, 1200)]


@pytest.mark.parametrize(
    ("label", "form", "where", "message"),
    [
        (
            "a total in the checkout form",
            {"email": "a@example.test", "amount_total": "1"},
            "checkout_error",
            "changed outside the shop",
        ),
        ("a bad email", {"email": "not-an-email"}, "email_error", "email"),
    ],
)
async def test_checkout_refuses_tampered_or_bad_input_and_creates_no_session(
    seeded, label, form, where, message, product_state, state_for
):
    state = await product_state()
    state.add_to_cart({"field:username": "@brand"})
    cart = await state_for(CartState, "/cart")
    cart.load_cart()
    cart.start_checkout(form)
    assert message in getattr(cart, where).lower() or message in getattr(cart, where)
    assert (count(CheckoutSession), count(Order)) == (0, 0)


# --- saved configurations ----------------------------------------------------------------


async def test_signed_in_customer_saves_lists_and_applies_a_configuration(seeded, product_state, session_cookie_for):
    cookie = session_cookie_for(Role.CUSTOMER)
    # given a customer who chose 2,500 followers and typed a handle
    state = await product_state(session=cookie)
    state.choose_option("package", "2500")
    state.set_field("username", "@launch")
    # when saved under a name
    state.save_configuration({"name": "Launch week"})
    # then it is listed, stored once, and applying it later restores the choices and price
    assert state.save_message == "Saved."
    assert [s["name"] for s in state.saved] == ["Launch week"]
    assert count(SavedConfiguration) == 1
    later = await product_state(session=cookie)
    assert ([s["name"] for s in later.saved], later.total) == (["Launch week"], "€12.00")
    later.apply_saved(later.saved[0]["id"])
    assert (later.total, later.config["options"]["package"], later.config["fields"]) == (
        "€29.00",
        ["2500"],
        {"username": "@launch"},
    )


async def test_a_guest_cannot_save_a_configuration(seeded, handler_events, is_toast_error, product_state):
    state = await product_state()
    events = handler_events(state.save_configuration({"name": "Mine"}))
    assert any(is_toast_error(e, "Sign in to save configurations.") for e in events)
    assert count(SavedConfiguration) == 0


async def test_a_configuration_with_a_broken_field_is_not_saved(seeded, product_state, session_cookie_for):
    state = await product_state(session=session_cookie_for(Role.CUSTOMER))
    state.set_field("username", "not a handle!")
    state.save_configuration({"name": "Broken"})
    assert state.save_message == "Fill in the required details first."
    assert count(SavedConfiguration) == 0


async def test_someone_elses_saved_configuration_cannot_be_applied(
    seeded, handler_events, is_toast_error, product_state, session_cookie_for
):
    owner = await product_state(session=session_cookie_for(Role.CUSTOMER))
    owner.choose_option("package", "2500")
    owner.set_field("username", "@owner")
    owner.save_configuration({"name": "Owner's"})
    saved_id = owner.saved[0]["id"]
    with session_scope() as db:
        other = accounts.sign_up(db, email="other@guards.test", password="violet-harbour-42", role=Role.CUSTOMER)
        other_cookie = accounts.redeem_signin_ticket(db, accounts.issue_signin_ticket(db, other)).token
    state = await product_state(session=other_cookie)
    before = dict(state.config)
    events = handler_events(state.apply_saved(saved_id))
    assert any(is_toast_error(e, "That saved configuration is not yours.") for e in events)
    assert (dict(state.config), state.saved) == (before, [])


# --- preset events by source ---------------------------------------------------------------


async def test_preset_events_are_counted_per_source_with_consent(seeded, product_state):
    # given visitors who allowed analytics: one opens the product from a marketing card's
    # preset button, then clears it and applies another preset in the configurator
    state = await product_state({"preset": "best-value"}, consent="all")
    assert (state.config["preset"], state.total) == ("best-value", "€55.00")
    state.clear_preset()
    state.apply_preset("popular")
    # and a visitor without consent does the same from a card
    await product_state({"preset": "best-value"}, consent="essential")
    # then one row per event with consent, by source
    with session_scope() as db:
        rows = sorted((r["preset"], r["action"], r["source"], r["count"]) for r in counters.preset_event_rows(db))
    assert rows == [
        ("best-value", "apply", "marketing_card", 1),
        ("best-value", "clear", "configurator", 1),
        ("popular", "apply", "configurator", 1),
    ]


async def test_an_unknown_card_preset_says_so_and_records_nothing(seeded, handler_events, is_toast_error, state_for):
    state = await state_for(
        ProductState, f"/services/{SLUG}", query={"preset": "free"}, params={"slug": SLUG}, consent="all"
    )
    events = handler_events(state.load_product())
    assert any(is_toast_error(e, "not offered any more") for e in events)
    assert (state.total, count(PresetEvent)) == ("€12.00", 0)


def test_product_cards_offer_the_featured_preset(seeded):
    with session_scope() as db:
        card = next(c for c in catalog.list_product_cards(db) if c.slug == SLUG)
    assert (card.as_row()["preset_key"], card.as_row()["preset_label"]) == ("popular", "1,000 followers / €12")


# --- pricing experiments: the admin handlers --------------------------------------------------

GOOD_FORM = {
    "product": SLUG,
    "key": "ig-price",
    "name": "IG price test",
    "variants": "control:List price:10000:1, lower:Ten off:9000:1",
}


async def test_a_customer_cannot_create_or_stop_experiments(
    seeded, handler_events, is_toast_error, session_cookie_for, state_for
):
    state = await state_for(SalesState, "/admin/sales", session=session_cookie_for(Role.CUSTOMER))
    events = handler_events(state.create_experiment(GOOD_FORM))
    assert any(is_toast_error(e, STAFF_ONLY_MESSAGE) for e in events)
    assert count(PriceExperiment) == 0
    with session_scope() as db:
        product_id = catalog.get_product_detail(db, SLUG).product.id
        experiment = experiments.create_experiment(
            db, product_id=product_id, key="x", name="X", variants=[("a", "A", 10000, 1), ("b", "B", 9000, 1)]
        )
        experiment_id = experiment.id
    events = handler_events(state.stop_experiment(experiment_id))
    assert any(is_toast_error(e, STAFF_ONLY_MESSAGE) for e in events)
    with session_scope() as db:
        assert db.get(PriceExperiment, experiment_id).status == "running"


@pytest.mark.parametrize(
    ("label", "changes", "message"),
    [
        ("variants not in the format", {"variants": "control, lower"}, "Variants: key:label:price_bps:weight"),
        ("one variant", {"variants": "control:List:10000:1"}, "at least two variants"),
        ("price out of range", {"variants": "a:A:10000:1, b:B:50:1"}, "between 10 % and 300 %"),
        ("weight out of range", {"variants": "a:A:10000:1, b:B:9000:0"}, "Weights must be between 1 and 100."),
        ("bad key", {"key": "IG Price!"}, "lower-case letters"),
        ("unknown product", {"product": "no-such-product"}, "Choose a product."),
        ("no name", {"name": "  "}, "Give the experiment a name."),
    ],
)
async def test_admin_experiment_form_refuses_bad_input_and_stores_nothing(
    seeded, label, changes, message, session_cookie_for, state_for
):
    state = await state_for(SalesState, "/admin/sales", session=session_cookie_for(Role.ADMIN))
    state.create_experiment({**GOOD_FORM, **changes})
    assert message in state.message
    assert (count(PriceExperiment), count(PriceExperimentVariant)) == (0, 0)


async def test_admin_creates_and_stops_an_experiment(seeded, session_cookie_for, state_for):
    state = await state_for(SalesState, "/admin/sales", session=session_cookie_for(Role.ADMIN))
    state.create_experiment(GOOD_FORM)
    assert state.message == "Experiment started."
    assert [(r["key"], r["variant_key"], r["price"], r["status"]) for r in state.experiments] == [
        ("ig-price", "control", "100 %", "running"),
        ("ig-price", "lower", "90 %", "running"),
    ]
    state.stop_experiment(state.experiments[0]["experiment_id"])
    assert [r["status"] for r in state.experiments] == ["stopped", "stopped"]


# --- exposures, sticky assignment, conversions and revenue per variant -----------------------


def _variant_rows() -> dict[str, tuple[int, int, int]]:
    with session_scope() as db:
        return {
            v.key: (v.exposures, v.conversions, v.revenue_minor)
            for v in db.execute(select(PriceExperimentVariant)).scalars()
        }


async def test_exposures_need_consent_and_assignment_is_sticky(seeded, product_state):
    with session_scope() as db:
        product_id = catalog.get_product_detail(db, SLUG).product.id
        experiments.create_experiment(
            db,
            product_id=product_id,
            key="ig-price",
            name="IG",
            variants=[("control", "List", 10000, 1), ("lower", "Lower", 9000, 1)],
        )
        assigned = experiments.variant_for(db, product_id, carts.visitor_key(GUEST)).variant_key
    other = "lower" if assigned == "control" else "control"
    price = {"control": "€12.00", "lower": "€10.80"}
    # when the visitor views the product without consent, then with "essential", then twice with "all"
    seen = []
    for consent in ("", "essential", "all", "all"):
        state = await product_state(consent=consent)
        seen.append(state.total)
    # then the same price every time, and only the two consented views count as exposures
    assert seen == [price[assigned]] * 4
    assert _variant_rows() == {assigned: (2, 0, 0), other: (0, 0, 0)}


async def test_paid_checkout_counts_conversion_and_revenue_for_the_visitors_variant(
    stripe_shop, product_state, state_for
):
    with session_scope() as db:
        product_id = catalog.get_product_detail(db, SLUG).product.id
        experiments.create_experiment(
            db,
            product_id=product_id,
            key="ig-price",
            name="IG",
            variants=[("control", "List", 10000, 1), ("lower", "Lower", 9000, 1)],
        )
        assigned = experiments.variant_for(db, product_id, carts.visitor_key(GUEST)).variant_key
    other = "lower" if assigned == "control" else "control"
    amount = {"control": 1200, "lower": 1080}[assigned]
    # given a consenting guest who saw the product, added it and checked out
    state = await product_state(consent="all")
    state.add_to_cart({"field:username": "@brand"})
    cart = await state_for(CartState, "/cart", consent="all")
    cart.load_cart()
    cart.start_checkout({"email": "exp@example.test"})
    with session_scope() as db:
        cs = db.execute(select(CheckoutSession)).scalars().one()
    assert cs.amount_total_minor == amount
    # when the sandbox reports the payment
    stripe_shop.pay(cs)
    with TestClient(build_api()) as client:
        stripe_shop.post(client, stripe_shop.events("checkout.session.completed")[0])
    # then one exposure, one conversion and its revenue on the visitor's variant only
    assert _variant_rows() == {assigned: (1, 1, amount), other: (0, 0, 0)}
    with session_scope() as db:
        assert db.execute(select(Order.total_minor)).scalars().all() == [amount]


# --- the guest cart follows the visitor at sign-in --------------------------------------------


async def test_guest_cart_is_merged_into_the_account_cart_at_sign_in(seeded, product_state):
    # given a guest line, and a customer whose account cart already holds one line
    guest = await product_state()
    guest.add_to_cart({"field:username": "@guest"})
    with session_scope() as db:
        user = accounts.sign_up(db, email="merge@example.test", password="violet-harbour-42", role=Role.CUSTOMER)
        account_cart = carts.get_or_create_cart(db, user_id=user.id, guest_token=None)
        carts.add_item(
            db,
            account_cart,
            SLUG,
            {
                "options": {"package": "2500", "speed": "standard"},
                "add_ons": [],
                "plan": "one-time",
                "fields": {"username": "@account"},
            },
            1,
            visitor=None,
        )
        ticket = accounts.issue_signin_ticket(db, user)
        user_id = user.id
    # when the sign-in ticket is exchanged with the guest cart cookie
    with TestClient(build_api(), follow_redirects=False) as client:
        client.cookies.set(carts.CART_COOKIE, GUEST)
        answer = client.get(f"/api/auth/session?ticket={ticket}")
    # then both lines are in the account cart, the guest cart is closed, nothing was copied
    assert answer.status_code == 303
    with session_scope() as db:
        cart = carts.find_cart(db, user_id=user_id, guest_token=None)
        assert [i.configuration["fields"]["username"] for i in carts.list_items(db, cart)] == ["@guest", "@account"]
        assert carts.find_cart(db, user_id=None, guest_token=GUEST) is None
    assert count(CartItem) == 2


async def test_a_replayed_ticket_merges_nothing(seeded, product_state):
    guest = await product_state()
    guest.add_to_cart({"field:username": "@guest"})
    with session_scope() as db:
        user = accounts.sign_up(db, email="replay@example.test", password="violet-harbour-42", role=Role.CUSTOMER)
        ticket = accounts.issue_signin_ticket(db, user)
        accounts.redeem_signin_ticket(db, ticket)
        user_id = user.id
    with TestClient(build_api(), follow_redirects=False) as client:
        client.cookies.set(carts.CART_COOKIE, GUEST)
        answer = client.get(f"/api/auth/session?ticket={ticket}")
    assert answer.headers["location"] == "/signin?error=expired"
    with session_scope() as db:
        assert carts.find_cart(db, user_id=user_id, guest_token=None) is None
        assert len(carts.list_items(db, carts.find_cart(db, user_id=None, guest_token=GUEST))) == 1


async def test_a_revoked_session_takes_no_guest_cart_with_it(seeded, product_state):
    # given a guest line and a customer whose new session is revoked before the merge
    guest = await product_state()
    guest.add_to_cart({"field:username": "@guest"})
    with session_scope() as db:
        user = accounts.sign_up(db, email="revoked@example.test", password="violet-harbour-42", role=Role.CUSTOMER)
        token = accounts.redeem_signin_ticket(db, accounts.issue_signin_ticket(db, user)).token
        accounts.revoke_session(db, token)
        user_id = user.id
    # when the sign-in merge runs for that session
    with session_scope() as db:
        moved = carts.merge_on_sign_in(db, token, GUEST)
    # then nothing moved: the guest cart still holds its line, the account has no cart
    assert moved == 0
    with session_scope() as db:
        assert carts.find_cart(db, user_id=user_id, guest_token=None) is None
        assert len(carts.list_items(db, carts.find_cart(db, user_id=None, guest_token=GUEST))) == 1


async def test_the_experiment_form_shows_the_services_message_for_a_duplicate_key(
    seeded, session_cookie_for, state_for
):
    state = await state_for(SalesState, "/admin/sales", session=session_cookie_for(Role.ADMIN))
    state.create_experiment(GOOD_FORM)
    with pytest.raises(experiments.ExperimentError) as caught, session_scope() as db:
        experiments.define_experiment(
            db, product_slug=SLUG, key="ig-price", name="Again", variants_text=GOOD_FORM["variants"]
        )
    assert (caught.value.code, caught.value.field) == (ErrorCode.CONFLICT, "key")
    state.create_experiment({**GOOD_FORM, "name": "Again"})
    assert state.message == caught.value.message
    assert count(PriceExperiment) == 1


# --- the success page -----------------------------------------------------------------------


async def test_success_page_places_the_order_once_and_the_receipt_goes_out_after_commit(
    stripe_shop, product_state, state_for
):
    from smplat.sandbox.smtp_sink import list_messages
    from smplat.ui.pages.storefront._checkout_result import CheckoutResultState

    sink = stripe_shop.sink
    # given a guest who paid at Stripe, whose webhook has not arrived
    product = await product_state()
    product.add_to_cart({"field:username": "@brand"})
    cart = await state_for(CartState, "/cart")
    cart.load_cart()
    cart.start_checkout({"email": "page@example.test"})
    with session_scope() as db:
        cs = db.execute(select(CheckoutSession)).scalars().one()
    stripe_shop.pay(cs)
    # when the success page loads, twice, and then the webhook arrives
    for _ in range(2):
        page = await state_for(CheckoutResultState, "/checkout/success", query={"session_id": cs.stripe_session_id})
        page.load_success()
        assert (page.status, page.order["email"]) == ("paid", "page@example.test")
    with TestClient(build_api()) as client:
        assert stripe_shop.post(client, stripe_shop.events("checkout.session.completed")[0]).status_code == 200
    # then one order, and one receipt
    assert count(Order) == 1
    receipts = [m for m in list_messages(sink.mailbox_dir) if "receipt" in m.subject]
    assert [m.to for m in receipts] == [["page@example.test"]]
