"""Operator pages update themselves while open (`LiveState`, smplat/ui/state/live.py): with
nothing changed a tick is ONE statement and no reload; after a new paid order, a status change,
a job run, a dead letter, a search, an invoice or a note the next tick sends the page's guarded
reload and the figures move, keeping the operator's filters, window, search and page; a tab that
may not see the page gets nothing from its tick."""

from __future__ import annotations

import gc
from datetime import timedelta
from typing import Any, ClassVar

import pytest
from sqlalchemy import select

from smplat.db import session_scope
from smplat.models.accounts import Role
from smplat.models.analytics import SearchRecord
from smplat.models.base import utcnow
from smplat.models.fulfillment import FulfillmentAttempt, FulfillmentTask, TaskStatus
from smplat.models.orders import Order, OrderItem
from smplat.models.payments import Payment, PaymentKind, PaymentRowStatus
from smplat.services import accounts, admin_orders, audit, customers, invoices
from smplat.services import jobs as job_runs
from smplat.services.permissions import Permission
from smplat.ui import routes
from smplat.ui.access import declared_permission
from smplat.ui.pages.admin.customers import CustomersState, CustomerState
from smplat.ui.pages.admin.dead_letters import DeadLettersState
from smplat.ui.pages.admin.fulfilment import FulfilmentState
from smplat.ui.pages.admin.invoices import AdminInvoicesState
from smplat.ui.pages.admin.jobs import JobsState
from smplat.ui.pages.admin.merchandising import MerchandisingState
from smplat.ui.pages.admin.order import OrderDetailState
from smplat.ui.pages.admin.sales import SalesState
from smplat.ui.pages.admin.search_insights import SearchInsightsState
from smplat.ui.state.auth import AuthState
from smplat.ui.state.live import LiveState
from tests.fulfillment_factory import paid_order, product, seed_with_panel

pytestmark = pytest.mark.integration

OTHER_OPERATOR = audit.Actor.staff(None, "other@smplat.local", "operator", "198.51.100.9")


@pytest.fixture
def shop(db_url: str) -> str:
    """The demo catalog (its provider unreachable: paid orders only queue their tasks)."""
    with session_scope() as db:
        seed_with_panel(db, "http://127.0.0.1:9/api/v2")
    return db_url


def _new_paid_order(email: str = "buyer@example.com", user_id: int | None = None) -> Order:
    with session_scope() as db:
        return paid_order(
            db,
            [(product(db, "instagram-followers"), "https://instagram.com/brand", 500, 1200)],
            email=email,
            user_id=user_id,
        )


async def _opened(root_state, cls, path: str, loader: str, cookie: str, **router: Any):
    state = await root_state(cls, path, cookie=cookie, **router)
    getattr(state, loader)()
    return state


def _quiet(state, url: str, count_queries) -> None:
    """Nothing changed: the tick sends one statement and no reload."""
    with count_queries(url) as q:
        assert state.live_tick() is None
    assert len(q.statements) == 1, q.statements


def _reloads(state) -> None:
    """Something changed: the tick sends the page's guarded reload; after it, quiet again."""
    assert state.live_tick() is type(state).live_reload
    state.live_reload()
    assert state.live_tick() is None


async def test_sales_and_order_pages_show_a_new_paid_order_and_a_status_change(
    shop, root_state, session_cookie_for, count_queries
) -> None:
    first = _new_paid_order()
    cookie = session_cookie_for(Role.OPERATOR)
    sales = await _opened(root_state, SalesState, routes.ADMIN_SALES, "load_sales", cookie)
    page = await _opened(
        root_state, OrderDetailState, routes.ADMIN_ORDER, "load", cookie, params={"number": first.number}
    )
    completed, sessions = sales.counters["checkout_completed"], len(sales.sessions)
    sales.message = "Experiment started."  # what the operator sees stays through a reload
    _quiet(sales, shop, count_queries)
    _quiet(page, shop, count_queries)
    # a new paid order: the sales page counts it; this order's page does not move
    _new_paid_order("second@example.com")
    _reloads(sales)
    assert (sales.counters["checkout_completed"], len(sales.sessions)) == (completed + 1, sessions + 1)
    assert sales.message == "Experiment started."
    _quiet(page, shop, count_queries)
    # another operator changes this order's status: its page shows it with the timeline entry
    with session_scope() as db:
        admin_orders.change_status(db, OTHER_OPERATOR, first.number, "on_hold", "customer asked to wait")
    _reloads(page)
    assert page.order["status"] == "on_hold"
    assert any("customer asked to wait" in e["message"] for e in page.order["events"])
    # an internal note is a timeline entry too
    with session_scope() as db:
        admin_orders.add_note(db, OTHER_OPERATOR, first.number, "called the customer")
    _reloads(page)
    assert page.order["events"][0]["message"] == "called the customer"


async def test_fulfilment_and_dead_letters_show_a_task_that_ran_out_of_attempts(
    shop, root_state, session_cookie_for, count_queries
) -> None:
    order = _new_paid_order()
    cookie = session_cookie_for(Role.OPERATOR)
    fulfilment = await _opened(root_state, FulfilmentState, routes.ADMIN_FULFILMENT, "load", cookie)
    dead = await _opened(root_state, DeadLettersState, routes.ADMIN_DEAD_LETTERS, "load", cookie)
    assert (fulfilment.totals["dead_now"], dead.rows) == ("0", [])
    dead.error = "Choose an action."
    _quiet(fulfilment, shop, count_queries)
    _quiet(dead, shop, count_queries)
    # the engine gives up on the order's task: it is dead-lettered with its last attempt
    with session_scope() as db:
        task = (
            db.execute(
                select(FulfillmentTask)
                .join(OrderItem, OrderItem.id == FulfillmentTask.order_item_id)
                .where(OrderItem.order_id == order.id)
            )
            .scalars()
            .first()
        )
        task.status, task.last_error = TaskStatus.DEAD_LETTER.value, "panel down"
        db.add(FulfillmentAttempt(task_id=task.id, task_kind=task.kind, outcome="dead_lettered", error="panel down"))
    _reloads(fulfilment)
    _reloads(dead)
    assert fulfilment.totals["dead_now"] == "1" and fulfilment.totals["dead_lettered"] == "1"
    assert [(r["order"], r["error"]) for r in dead.rows] == [(order.number, "panel down")]
    assert dead.error == "Choose an action."


async def test_jobs_page_shows_new_runs_and_keeps_the_idle_switch(
    db_url, root_state, session_cookie_for, count_queries
) -> None:
    factory = lambda: session_scope(db_url)  # noqa: E731
    job_runs.run_recorded("fulfillment", lambda _f, _n: {"processed": 2}, session_factory=factory)
    state = await _opened(root_state, JobsState, routes.ADMIN_JOBS, "load_jobs", session_cookie_for(Role.OPERATOR))
    state.set_show_idle(True)
    assert len(state.runs) == 1
    _quiet(state, db_url, count_queries)
    # an idle tick: listed, because the operator chose to see idle ticks
    job_runs.run_recorded("fulfillment", lambda _f, _n: {"processed": 0}, session_factory=factory)
    _reloads(state)
    assert (len(state.runs), state.show_idle) == (2, True)
    # a run starts (listed as running), then it finishes (its outcome shows)
    with session_scope() as db:
        run = job_runs.start_run(db, "status_sync")
    _reloads(state)
    assert (state.runs[0]["job"], state.runs[0]["outcome"]) == ("status_sync", "running")
    with session_scope() as db:
        job_runs.finish_run(db, run, "succeeded", {"polled": 3})
    _reloads(state)
    assert state.runs[0]["outcome"] == "succeeded"


async def test_search_merchandising_invoices_and_customers_follow_the_database(
    shop, root_state, session_cookie_for, count_queries
) -> None:
    cookie = session_cookie_for(Role.ADMIN)
    insights = await _opened(root_state, SearchInsightsState, routes.ADMIN_SEARCH_INSIGHTS, "load_insights", cookie)
    insights.choose_window("7")
    merch = await _opened(root_state, MerchandisingState, routes.ADMIN_MERCHANDISING, "load_merchandising", cookie)
    bills = await _opened(root_state, AdminInvoicesState, routes.ADMIN_INVOICES, "load", cookie)
    people = await _opened(
        root_state, CustomersState, routes.ADMIN_CUSTOMERS, "load", cookie, query={"q": "live-buyer"}
    )
    searches, lines = insights.kpis["searches"], int(merch.kpis["lines"])
    assert people.rows == []
    for state in (insights, merch, bills, people):
        _quiet(state, shop, count_queries)
    # a search that found nothing: counted in the operator's 7-day window
    with session_scope() as db:
        db.add(
            SearchRecord(
                query="tiktok saves", sort="relevance", result_count=0, created_at=utcnow() - timedelta(days=1)
            )
        )
    _reloads(insights)
    assert (insights.window, insights.kpis["searches"], insights.kpis["zero"]) == ("7", str(int(searches) + 1), "1")
    # a customer signs up and pays: the customers list (still searched) and the adoption move
    with session_scope() as db:
        buyer = accounts.sign_up(db, email="live-buyer@example.com", password="violet-harbour-42").id
    _reloads(people)
    assert (people.query, [r["email"] for r in people.rows]) == ("live-buyer", ["live-buyer@example.com"])
    order = _new_paid_order("live-buyer@example.com", user_id=buyer)
    _reloads(people)
    assert people.rows[0]["orders"] == 1
    _reloads(merch)
    assert int(merch.kpis["lines"]) == lines + 1
    # its invoice is issued: the invoices page lists it
    with session_scope() as db:
        paid = db.get(Order, order.id)
        payment = Payment(
            order_id=paid.id,
            kind=PaymentKind.CHARGE.value,
            amount_minor=paid.charged_minor,
            currency=paid.currency,
            status=PaymentRowStatus.SUCCEEDED.value,
        )
        db.add(payment)
        db.flush()
        number = invoices.issue_for_order(db, paid, payment).number
    _reloads(bills)
    assert bills.rows[0]["number"] == number
    # the customer's page: a note by another operator appears
    page = await _opened(
        root_state, CustomerState, routes.ADMIN_CUSTOMER, "load", cookie, params={"user_id": str(buyer)}
    )
    _quiet(page, shop, count_queries)
    with session_scope() as db:
        customers.add_note(db, OTHER_OPERATOR, buyer, "asked for an invoice copy")
    _reloads(page)
    assert "asked for an invoice copy" in str(page.customer["notes"])


LIVE_PAGES = [
    pytest.param(SalesState, routes.ADMIN_SALES, "load_sales", {}, id="sales"),
    pytest.param(OrderDetailState, routes.ADMIN_ORDER, "load", {"params": {"number": "X"}}, id="order"),
    pytest.param(JobsState, routes.ADMIN_JOBS, "load_jobs", {}, id="jobs"),
    pytest.param(FulfilmentState, routes.ADMIN_FULFILMENT, "load", {}, id="fulfilment"),
    pytest.param(DeadLettersState, routes.ADMIN_DEAD_LETTERS, "load", {}, id="dead-letters"),
    pytest.param(SearchInsightsState, routes.ADMIN_SEARCH_INSIGHTS, "load_insights", {}, id="search-insights"),
    pytest.param(MerchandisingState, routes.ADMIN_MERCHANDISING, "load_merchandising", {}, id="merchandising"),
    pytest.param(AdminInvoicesState, routes.ADMIN_INVOICES, "load", {}, id="invoices"),
    pytest.param(CustomersState, routes.ADMIN_CUSTOMERS, "load", {}, id="customers"),
    pytest.param(CustomerState, routes.ADMIN_CUSTOMER, "load", {"params": {"user_id": "1"}}, id="customer"),
]


def test_every_live_admin_page_renders_its_ticker_and_names_its_permission() -> None:
    from smplat.ui import registry

    specs = {spec.route: spec for spec in registry.discover()}
    for cls, path, _loader, _router in [p.values for p in LIVE_PAGES]:
        assert issubclass(cls, LiveState)
        # the ticker is on the page and calls this state's tick
        assert f"{cls.get_full_name()}.live_tick" in str(specs[path].component().render()), cls.__name__
        # the reload needs what the page's own loader needs
        assert declared_permission(cls, "live_reload") == specs[path].permission, cls.__name__
    # a live page that forgets its permission, or writes its own unguarded reload, is refused at import
    with pytest.raises(TypeError, match="live_permission"):

        class _NoPermission(AuthState, LiveState):
            pass

    with pytest.raises(TypeError, match="live_reload"):

        class _OwnReload(AuthState, LiveState):
            live_permission: ClassVar[Permission] = Permission.VIEW_ORDERS

            def live_reload(self) -> None:
                pass

    with pytest.raises(TypeError, match="write _live_read and _live_refresh"):

        class _NoReads(AuthState, LiveState):
            live_permission: ClassVar[Permission] = Permission.VIEW_ORDERS

    gc.collect()  # the refused classes leave AuthState.__subclasses__ (other tests enumerate it)
    refused = ("_NoPermission", "_OwnReload", "_NoReads")
    assert not [c for c in AuthState.__subclasses__() if c.__name__ in refused]


@pytest.mark.parametrize(("cls", "path", "loader", "router"), LIVE_PAGES)
async def test_a_signed_out_or_customer_tab_gets_nothing_from_the_tick(
    sqlite_url, root_state, session_cookie_for, count_queries, cls, path, loader, router
) -> None:
    for cookie in ("forged-cookie", session_cookie_for(Role.CUSTOMER)):
        state = await _opened(root_state, cls, path, loader, cookie, **router)
        # the loader was refused, so the page is not armed: the tick reads nothing
        with count_queries(sqlite_url) as q:
            assert state.live_tick() is None
        assert q.statements == []
        # and the reload sent directly is refused by the page's permission
        before = {k: getattr(state, k) for k in state.base_vars if k not in ("user_id", "session_known")}
        refusal = str(state.live_reload())
        assert "signin" in refusal or "staff only" in refusal, refusal
        assert {k: getattr(state, k) for k in before} == before


async def test_an_open_page_whose_session_ended_is_refused_then_stays_silent(
    shop, root_state, session_cookie_for, count_queries
) -> None:
    cookie = session_cookie_for(Role.OPERATOR)
    sales = await _opened(root_state, SalesState, routes.ADMIN_SALES, "load_sales", cookie)
    with session_scope() as db:
        accounts.revoke_session(db, cookie)  # signed out in another tab
    _new_paid_order()
    assert sales.live_tick() is SalesState.live_reload
    assert "signin" in str(sales.live_reload())  # refused: the tab is sent to sign in
    with count_queries(shop) as q:
        assert sales.live_tick() is None  # disarmed: no statement any more
    assert q.statements == []
    assert sales.counters == {}  # the previous user's figures left the tab
