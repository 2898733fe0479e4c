"""Finding: "`audit_logs` stays empty after provider and content edits". Every staff action
now writes who (user, role), from where (IP), what (action, target) and the fields that
changed, before and after, with secrets masked; refusals of staff are kept even though the
refused unit of work rolls back; the admin's audit page filters, pages (keyset, counted
queries) and exports CSV (formula cells neutralised, the export itself logged). Replayed
through the real page handlers with a tab's root state, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from smplat import cli
from smplat.db import session_scope
from smplat.models.accounts import Role, User, UserSession
from smplat.models.audit import AppendOnly, AuditLog
from smplat.models.base import utcnow
from smplat.models.fulfillment import FulfillmentTask
from smplat.models.merchandising import PriceExperiment
from smplat.models.orders import OrderItem
from smplat.models.providers import Provider, ProviderService
from smplat.services import audit, permissions, providers, staff
from smplat.services.permissions import Permission
from smplat.services.seed import SANDBOX_API_KEY, seed_demo
from smplat.settings import reset_settings_cache
from smplat.ui.pages.admin.audit import AuditState
from smplat.ui.pages.admin.content import ContentAdminState
from smplat.ui.pages.admin.dead_letters import DeadLettersState
from smplat.ui.pages.admin.order import OrderDetailState
from smplat.ui.pages.admin.provider import ProviderDetailState
from smplat.ui.pages.admin.providers import ProvidersState
from smplat.ui.pages.admin.sales import SalesState
from smplat.ui.pages.admin.staff import StaffState
from tests.fulfillment_factory import paid_order, product
from tests.security.helpers import configure, count, make_user, session_cookie, tab

pytestmark = pytest.mark.integration

ADMIN, OPERATOR = "boss@audit.test", "op@audit.test"
ADMIN_IP, OPERATOR_IP = "198.51.100.20", "198.51.100.77"
NEW_KEY = "sk-new-panel-key-1234567890"


async def page_state(cls, email: str, role: Role, ip: str, path: str = "/admin", params: dict | None = None):
    """The page state of a signed-in staff member's tab, whose events come from `ip`."""
    with session_scope() as db:
        user = db.execute(select(User).where(User.email == email)).scalars().first()
        user_id = user.id if user else None
    cookie = session_cookie(user_id or make_user(email, role))
    root = tab(cookie, path=path, ip=ip, query=params)
    return await root.get_state(cls)


def rows(*where) -> list[AuditLog]:
    with session_scope() as db:
        return list(db.execute(select(AuditLog).where(*where).order_by(AuditLog.id)).scalars())


def dump(entries: list[AuditLog]) -> str:
    return json.dumps([e.data for e in entries] + [e.entity_id for e in entries], default=str)


def _provider_form(**overrides: str) -> dict[str, str]:
    return {
        "name": "Panel",
        "slug": "panel",
        "base_url": "https://panel.example/api/v2",
        "api_key": "sk-first-key-abcdef",
        "rate_limit_per_second": "5",
        "timeout_seconds": "20",
        "low_balance_threshold": "",
        "is_active": "on",
        **overrides,
    }


# --- the record itself -----------------------------------------------------------------------------


@pytest.mark.unit
def test_only_changed_fields_are_kept_and_secrets_are_masked():
    before = {"name": "Panel", "base_url": "https://a.example", "api_key_encrypted": "gAAAA-old", "timeout": 20}
    after = {"name": "Panel", "base_url": "https://b.example", "api_key_encrypted": "gAAAA-new", "timeout": 20}
    assert audit.diff(before, after) == {
        "before": {"base_url": "https://a.example", "api_key_encrypted": audit.SECRET_MASK},
        "after": {"base_url": "https://b.example", "api_key_encrypted": audit.SECRET_MASK},
    }
    # a key that did not change is not mentioned at all; nested secrets are masked too
    assert audit.diff({"api_key": "x"}, {"api_key": "x"}) == {"before": {}, "after": {}}
    assert audit.plain({"password_hash": "$argon2id$…", "totp_secret": "JBSW", "n": 1}) == {
        "password_hash": audit.SECRET_MASK,
        "totp_secret": audit.SECRET_MASK,
        "n": 1,
    }


def test_audit_rows_are_append_only_and_commit_with_their_change_or_not_at_all(db_url):
    actor = audit.Actor.cli()
    # when the unit of work that changed a provider fails after the audit row was written
    with pytest.raises(RuntimeError), session_scope() as db:
        providers.create_provider(db, providers.ProviderForm("P", "pp", "https://p.example/api/v2", "k"), actor=actor)
        assert db.execute(select(func.count()).select_from(AuditLog)).scalar_one() == 1
        raise RuntimeError("boom")
    # then neither the provider nor its audit row exists
    assert (count(Provider), count(AuditLog)) == (0, 0)
    # and a stored row cannot be changed
    with session_scope() as db:
        providers.create_provider(db, providers.ProviderForm("P", "pp", "https://p.example/api/v2", "k"), actor=actor)
    with pytest.raises(AppendOnly), session_scope() as db:
        row = db.execute(select(AuditLog)).scalars().one()
        row.action = "nothing.happened"
        db.flush()


# --- providers ------------------------------------------------------------------------------------------


async def test_provider_create_and_edit_are_logged_with_actor_ip_and_changes_and_never_the_key(db_url):
    # when an admin creates a provider, then changes its URL and key
    state = await page_state(ProvidersState, ADMIN, Role.ADMIN, ADMIN_IP, "/admin/providers")
    state.load()
    assert state.can_manage is True
    state.create(_provider_form())
    provider_id = rows()[0].entity_id
    state = await page_state(
        ProviderDetailState,
        ADMIN,
        Role.ADMIN,
        ADMIN_IP,
        f"/admin/providers/{provider_id}",
        {"provider_id": provider_id},
    )
    state.save(_provider_form(base_url="https://new.example/api/v2", api_key=NEW_KEY))
    assert state.notice == "Provider saved."
    # then two rows say who, from where, and what changed; the key only as "changed"
    created, updated = rows()
    assert (created.action, created.entity_type, created.actor_label, created.ip_address) == (
        "provider.create",
        "provider",
        ADMIN,
        ADMIN_IP,
    )
    assert created.data["after"]["base_url"] == "https://panel.example/api/v2"
    assert created.data["after"]["api_key_encrypted"] == audit.SECRET_MASK
    assert (updated.action, updated.entity_id, updated.ip_address, updated.data["role"]) == (
        "provider.update",
        provider_id,
        ADMIN_IP,
        "admin",
    )
    assert updated.data["before"] == {
        "base_url": "https://panel.example/api/v2",
        "api_key_encrypted": audit.SECRET_MASK,
    }
    assert updated.data["after"] == {"base_url": "https://new.example/api/v2", "api_key_encrypted": audit.SECRET_MASK}
    with session_scope() as db:
        ciphertext = db.get(Provider, int(provider_id)).api_key_encrypted
    stored = dump(rows())
    for secret in ("sk-first-key-abcdef", NEW_KEY, ciphertext):
        assert secret not in stored


async def test_an_operator_never_sees_the_provider_forms_and_a_refused_edit_is_logged_with_nothing_changed(db_url):
    with session_scope() as db:
        provider_id = providers.create_provider(
            db, providers.ProviderForm("Panel", "panel", "https://panel.example/api/v2", "k"), actor=audit.Actor.cli()
        ).id
    before = count(AuditLog)
    path, params = f"/admin/providers/{provider_id}", {"provider_id": str(provider_id)}
    # when an operator opens the pages and posts the edit anyway
    listing = await page_state(ProvidersState, OPERATOR, Role.OPERATOR, OPERATOR_IP, "/admin/providers")
    detail = await page_state(ProviderDetailState, OPERATOR, Role.OPERATOR, OPERATOR_IP, path, params)
    listing.load()
    detail.load()
    answer = detail.save(_provider_form(base_url="http://127.0.0.1:9/steal", api_key="attacker"))
    # then the forms are not offered, the edit is refused, the provider is unchanged
    assert (listing.can_manage, detail.can_manage) == (False, False)
    assert permissions.refusal_message(Permission.MANAGE_PROVIDERS) in str(answer)
    with session_scope() as db:
        assert db.get(Provider, provider_id).base_url == "https://panel.example/api/v2"
    # and the refusal is in the log (its own transaction), with who and from where
    (denied,) = rows(AuditLog.id > before)
    assert (denied.action, denied.actor_label, denied.ip_address, denied.entity_id) == (
        audit.DENIED,
        OPERATOR,
        OPERATOR_IP,
        "ProviderDetailState.save",
    )
    assert denied.data["data"]["permission"] == "manage_providers"


def test_provider_services_check_the_role_themselves_and_log_the_refusal(db_url):
    operator_id = make_user(OPERATOR, Role.OPERATOR)
    operator = audit.Actor.staff(operator_id, OPERATOR, "operator", "cli")
    # when the service is called directly for an operator (as the CLI or a script would)
    with pytest.raises(permissions.PermissionDenied), session_scope() as db:
        providers.create_provider(
            db, providers.ProviderForm("P", "pp", "https://p.example/api/v2", "k"), actor=operator
        )
    # then nothing was created, and the refusal survived the rolled-back unit of work
    assert count(Provider) == 0
    (denied,) = rows()
    assert (denied.action, denied.actor_label, denied.data["data"]["attempted"]) == (
        audit.DENIED,
        OPERATOR,
        "provider.create",
    )


def test_cli_export_and_import_are_logged_and_an_operator_named_by_as_is_refused(db_url, tmp_path, capsys):
    with session_scope() as db:
        seed_demo(db)
    make_user(OPERATOR, Role.OPERATOR)
    out = tmp_path / "services.csv"
    services_before = count(ProviderService)
    # when the shell account exports and imports, and an operator tries to import
    assert cli.main(["providers", "export", "--provider", "sandbox-panel", "--output", str(out)]) == 0
    assert cli.main(["providers", "import", "--provider", "sandbox-panel", str(out)]) == 0
    out.write_text(out.read_text() + "999,Injected,1.00,10,100\n")
    refused = cli.main(["providers", "import", "--provider", "sandbox-panel", "--as", OPERATOR, str(out)])
    # then
    assert refused == 2 and "Only an admin can" in capsys.readouterr().err
    assert count(ProviderService) == services_before
    export, imported, denied = rows(AuditLog.action.in_(("provider.export", "provider.import", audit.DENIED)))
    assert (export.action, export.actor_label.startswith("cli:"), export.ip_address) == ("provider.export", True, "cli")
    assert export.data["data"] == {"format": "csv", "rows": services_before}
    assert (imported.action, imported.data["data"]["updated"]) == ("provider.import", services_before)
    assert (denied.action, denied.actor_label, denied.data["data"]["attempted"]) == (
        audit.DENIED,
        OPERATOR,
        "provider.import",
    )


# --- content, experiments, orders, dead letters --------------------------------------------------------------


async def test_content_edits_and_resets_are_logged_with_only_the_changed_fields(db_url):
    state = await page_state(ContentAdminState, OPERATOR, Role.OPERATOR, OPERATOR_IP, "/admin/content")
    state.load_content()
    state.select_block("home.hero")
    form = {"title": "Grow today", "subtitle": "Real delivery", "body": "Fast and safe.", "items": ""}
    # when saved twice (the second time only the title changes), then reset
    state.save(form)
    assert state.errors == {name: "" for name in state.errors}, state.errors
    state.save({**form, "title": "Grow faster"})
    state.reset_to_default()
    # then
    first, second, reset = rows()
    assert [r.action for r in (first, second, reset)] == ["content.save", "content.save", "content.reset"]
    assert {r.entity_id for r in (first, second, reset)} == {"home.hero"}
    assert first.data["after"]["title"] == "Grow today" and first.data["before"] == {}
    assert second.data == {
        "before": {"title": "Grow today"},
        "after": {"title": "Grow faster"},
        "role": "operator",
    }
    assert reset.data["before"]["title"] == "Grow faster"
    assert {(r.actor_label, r.ip_address) for r in (first, second, reset)} == {(OPERATOR, OPERATOR_IP)}


async def test_experiment_start_and_stop_are_logged(db_url):
    with session_scope() as db:
        seed_demo(db)
    state = await page_state(SalesState, OPERATOR, Role.OPERATOR, OPERATOR_IP, "/admin/sales")
    state.create_experiment(
        {"product": "instagram-likes", "key": "likes-t", "name": "Likes test", "variants": "a:A:10000:1, b:B:9000:1"}
    )
    with session_scope() as db:
        experiment_id = db.execute(select(PriceExperiment.id).where(PriceExperiment.key == "likes-t")).scalar_one()
    state.stop_experiment(experiment_id)
    created, stopped = rows(AuditLog.entity_type == "experiment")
    assert (created.action, created.entity_id, created.data["after"]["key"]) == (
        "experiment.create",
        str(experiment_id),
        "likes-t",
    )
    assert created.data["after"]["variants"] == [["a", "A", 10000, 1], ["b", "B", 9000, 1]]
    assert (stopped.action, stopped.data["before"], stopped.data["after"]) == (
        "experiment.stop",
        {"status": "running"},
        {"status": "stopped"},
    )
    assert stopped.ip_address == OPERATOR_IP


async def test_order_replay_and_dead_letter_retry_are_logged(session, panel):
    from tests.fulfillment_factory import seed_with_panel

    seed_with_panel(session, panel.base_url)
    order = paid_order(session, [(product(session, "instagram-likes"), "https://instagram.com/p/au", 1000, 990)])
    item = session.execute(select(OrderItem).where(OrderItem.order_id == order.id)).scalars().one()
    task = session.execute(select(FulfillmentTask)).scalars().one()
    task.status = "dead_letter"
    session.add(task)
    session.commit()
    # when an operator retries the dead letter and replays the line
    dead = await page_state(DeadLettersState, OPERATOR, Role.OPERATOR, OPERATOR_IP, "/admin/dead-letters")
    dead.act({"task_id": str(task.id), "action": "retry", "reason": "panel fixed"})
    detail = await page_state(
        OrderDetailState,
        OPERATOR,
        Role.OPERATOR,
        OPERATOR_IP,
        f"/admin/orders/{order.number}",
        {"number": order.number},
    )
    detail.load()
    detail.act({"item_id": str(item.id), "action": "replay", "reason": "customer asked"})
    # then
    retry, replay = rows()
    assert (retry.action, retry.entity_type, retry.entity_id) == ("dead_letter.retry", "fulfillment_task", str(task.id))
    assert retry.data["before"] == {"status": "dead_letter"} and retry.data["after"] == {"status": "pending"}
    assert retry.data["data"]["reason"] == "panel fixed"
    assert (replay.action, replay.entity_id, replay.data["data"]["reason"]) == (
        "order.replay",
        str(item.id),
        "customer asked",
    )
    assert {(r.actor_label, r.ip_address) for r in (retry, replay)} == {(OPERATOR, OPERATOR_IP)}


# --- staff ----------------------------------------------------------------------------------------------------


async def test_an_admin_changes_a_role_the_targets_sessions_end_and_it_is_logged(db_url):
    operator_id = make_user(OPERATOR, Role.OPERATOR)
    operator_cookie = session_cookie(operator_id)
    state = await page_state(StaffState, ADMIN, Role.ADMIN, ADMIN_IP, "/admin/staff")
    state.load()
    assert sorted(r["email"] for r in state.rows) == [ADMIN, OPERATOR]
    # when the admin makes the operator a customer (row form: user_id + the named select)
    state.set_role({"user_id": str(operator_id), "action": "customer"})
    # then the role changed, the operator's sessions ended, and the log says so
    assert state.error == "" and state.notice.startswith(f"{OPERATOR} is now customer")
    with session_scope() as db:
        assert db.get(User, operator_id).role == "customer"
        assert (
            db.execute(
                select(func.count())
                .select_from(UserSession)
                .where(UserSession.user_id == operator_id, UserSession.revoked_at.is_(None))
            ).scalar_one()
            == 0
        )
    (change,) = rows(AuditLog.action == "staff.role")
    assert (change.actor_label, change.ip_address, change.entity_id) == (ADMIN, ADMIN_IP, str(operator_id))
    assert (change.data["before"], change.data["after"]) == ({"role": "operator"}, {"role": "customer"})
    assert change.data["data"]["sessions_ended"] == 1
    assert operator_cookie  # the cookie exists, but no longer resolves
    from smplat.services import accounts

    with session_scope() as db:
        assert accounts.resolve_session(db, operator_cookie) is None


async def test_the_last_admin_can_neither_demote_nor_deactivate_themselves(db_url):
    state = await page_state(StaffState, ADMIN, Role.ADMIN, ADMIN_IP, "/admin/staff")
    with session_scope() as db:
        admin_id = db.execute(select(User.id).where(User.email == ADMIN)).scalar_one()
    state.set_role({"email": ADMIN, "action": "operator"})
    assert state.error == staff.LAST_ADMIN
    state.set_active({"user_id": str(admin_id), "action": "deactivate"})
    assert state.error == staff.LAST_ADMIN
    with session_scope() as db:
        user = db.get(User, admin_id)
        assert (user.role, user.is_active) == ("admin", True)
    assert rows(AuditLog.action.startswith("staff.")) == []
    # with a second admin, the first may step down (and deactivating is logged too)
    second = make_user("second@audit.test", Role.ADMIN)
    state.set_active({"user_id": str(second), "action": "deactivate"})
    assert state.error == "" and [r.action for r in rows(AuditLog.action.startswith("staff."))] == ["staff.deactivate"]


async def test_operators_are_refused_the_staff_and_audit_pages_with_nothing_changed(db_url):
    admin_id = make_user(ADMIN, Role.ADMIN)
    with session_scope() as db:
        audit.record(db, audit.Actor.staff(admin_id, ADMIN, "admin", ADMIN_IP), "provider.update", "provider", 1)
    staff_page = await page_state(StaffState, OPERATOR, Role.OPERATOR, OPERATOR_IP, "/admin/staff")
    audit_page = await page_state(AuditState, OPERATOR, Role.OPERATOR, OPERATOR_IP, "/admin/audit")
    answers = [
        staff_page.load(),
        staff_page.set_role({"email": OPERATOR, "action": "admin"}),
        audit_page.load(),
        audit_page.export_csv(),
    ]
    for answer in answers:
        assert "Only an admin can" in str(answer)
    assert (staff_page.rows, audit_page.rows, staff_page.loaded, audit_page.loaded) == ([], [], False, False)
    with session_scope() as db:
        assert db.execute(select(User.role).where(User.email == OPERATOR)).scalar_one() == "operator"
    denied = rows(AuditLog.action == audit.DENIED)
    assert [r.entity_id for r in denied] == [
        "StaffState.load",
        "StaffState.set_role",
        "AuditState.load",
        "AuditState.export_csv",
    ]
    assert {(r.actor_label, r.ip_address) for r in denied} == {(OPERATOR, OPERATOR_IP)}


# --- the audit page --------------------------------------------------------------------------------------------


def _fill_log(n: int) -> None:
    """`n` rows from two actors, alternating actions, one a minute (the newest now)."""
    now = utcnow()
    with session_scope() as db:
        for i in range(n):
            who = audit.Actor.staff(None, ADMIN if i % 2 else OPERATOR, "admin" if i % 2 else "operator", ADMIN_IP)
            action = "provider.update" if i % 3 else "content.save"
            target = ("provider", 7) if action.startswith("provider") else ("content_block", "home.hero")
            audit.record(
                db, who, action, *target, before={"n": i}, after={"n": i + 1}, at=now - timedelta(minutes=n - i)
            )


async def test_the_audit_page_filters_and_pages_with_a_fixed_number_of_queries(db_url, count_queries):
    make_user(ADMIN, Role.ADMIN)
    _fill_log(120)
    state = await page_state(AuditState, ADMIN, Role.ADMIN, ADMIN_IP, "/admin/audit")
    state.load()
    # first page: the 50 newest, with "before → after" readable
    assert len(state.rows) == 50 and state.next_cursor != 0
    assert state.rows[0]["changes"] == "n: 119 → 120" and state.rows[0]["ip"] == ADMIN_IP
    seen = [r["id"] for r in state.rows]
    # paging older: every page costs the same statements (session check + one keyset query)
    counts = []
    while state.next_cursor:
        with count_queries(db_url) as q:
            state.older()
        counts.append(q.count)
        seen += [r["id"] for r in state.rows]
    assert len(seen) == len(set(seen)) == 120 and seen == sorted(seen, reverse=True)
    assert counts == [2, 2], counts
    with session_scope() as db, count_queries(db_url) as q:
        audit.page(db, audit.Filters(), before_id=seen[60])
    assert q.count == 1
    state.newer()
    assert [r["id"] for r in state.rows] == seen[50:100]
    # filters: actor, action prefix, exact target, dates
    state.apply_filters({"actor": "OP@audit", "action": "", "target": "", "date_from": "", "date_to": ""})
    assert {r["actor"] for r in state.rows} == {OPERATOR} and len(state.rows) == 50
    state.apply_filters({"actor": "", "action": "content.", "target": "", "date_from": "", "date_to": ""})
    assert {r["action"] for r in state.rows} == {"content.save"} and len(state.rows) == 40
    state.apply_filters({"actor": "", "action": "", "target": "provider:7", "date_from": "", "date_to": ""})
    assert {r["target"] for r in state.rows} == {"provider:7"}
    tomorrow = (utcnow() + timedelta(days=1)).date().isoformat()
    state.apply_filters({"actor": "", "action": "", "target": "", "date_from": tomorrow, "date_to": ""})
    assert state.rows == [] and state.loaded  # the empty state
    state.apply_filters({"actor": "", "action": "", "target": "", "date_from": "yesterday", "date_to": ""})
    assert state.error == "Dates look like 2026-11-26." and state.rows == []


async def test_the_csv_export_is_neutralised_and_itself_logged(db_url):
    admin_id = make_user(ADMIN, Role.ADMIN)
    evil = audit.Actor.staff(admin_id, '=HYPERLINK("http://x")', "operator", "@1.2.3.4")
    with session_scope() as db:
        audit.record(db, evil, "content.save", "content_block", "-home", before={"title": "a"}, after={"title": "+b"})
    state = await page_state(AuditState, ADMIN, Role.ADMIN, ADMIN_IP, "/admin/audit")
    state.load()
    download = str(state.export_csv())
    assert "audit-log-" in download
    with session_scope() as db:
        text = audit.export_csv(db, audit.Actor.cli(), audit.Filters(action="content."))
    (row,) = list(csv.DictReader(io.StringIO(text, newline="")))
    for cell in row.values():
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), row
    assert row["actor"] == '\'=HYPERLINK("http://x")' and row["ip"] == "'@1.2.3.4"
    exports = rows(AuditLog.action == "audit.export")
    assert (exports[0].actor_label, exports[0].ip_address) == (ADMIN, ADMIN_IP)
    assert exports[1].data["data"] == {"rows": 1, "filters": {"action": "content."}}
    assert SANDBOX_API_KEY not in text


# --- payment links, refunds and jobs ----------------------------------------------------------------------------


@pytest.fixture
def stripe(db_url, monkeypatch):
    """The seeded shop talking to the Stripe sandbox over HTTP (webhooks kept, not sent)."""
    from smplat.sandbox.stripe_sandbox import StripeSandbox
    from smplat.settings import SANDBOX_STRIPE_SECRET_KEY, SANDBOX_STRIPE_WEBHOOK_SECRET

    with session_scope() as db:
        seed_demo(db)
    sandbox = StripeSandbox(
        "127.0.0.1",
        0,
        secret_key=SANDBOX_STRIPE_SECRET_KEY,
        webhook_url="http://127.0.0.1:9/unused",
        webhook_secret=SANDBOX_STRIPE_WEBHOOK_SECRET,
    )
    original = StripeSandbox.emit
    sandbox.emit = lambda kind, obj, *, deliver=True: original(sandbox, kind, obj, deliver=False)
    sandbox.start()
    configure(monkeypatch, stripe_api_base=sandbox.base_url, operator_refund_limit_minor=100)
    try:
        yield sandbox
    finally:
        sandbox.stop()
        reset_settings_cache()


async def test_payment_link_and_refunds_are_logged_and_a_refund_above_the_limit_is_refused(stripe):
    import httpx

    from smplat.models.checkout import CheckoutSession
    from smplat.models.orders import Order
    from smplat.services.checkout import placement, refunds
    from tests.checkout_factory import start_guest_checkout

    # given an open checkout; when an operator sends the customer a fresh payment link
    old = start_guest_checkout()
    sales = await page_state(SalesState, OPERATOR, Role.OPERATOR, OPERATOR_IP, "/admin/sales")
    assert sales.regenerate(old.id) is None
    (link,) = rows(AuditLog.action == "checkout.regenerate_link")
    with session_scope() as db:
        new = db.execute(select(CheckoutSession).where(CheckoutSession.replaces_session_id == old.id)).scalar_one()
    assert (link.entity_id, link.actor_label, link.ip_address) == (str(old.id), OPERATOR, OPERATOR_IP)
    assert link.data["data"]["new_checkout_id"] == new.id
    assert new.stripe_session_id not in dump([link])  # the payment link itself is not kept
    # and the customer pays it
    assert httpx.post(f"{stripe.base_url}/pay/{new.stripe_session_id}/pay").status_code in (200, 303)
    with session_scope() as db:
        placement.confirm_from_success_page(db, new.stripe_session_id)
        order_id = db.execute(select(Order.id)).scalar_one()
    operator = audit.Actor.staff(None, OPERATOR, "operator", OPERATOR_IP)
    admin = audit.Actor.staff(None, ADMIN, "admin", ADMIN_IP)
    # when an operator refunds above the limit, then an admin refunds 150
    with pytest.raises(permissions.PermissionDenied), session_scope() as db:
        refunds.refund_order(db, order_id, 150, actor=operator)
    with session_scope() as db:
        refunds.refund_order(db, order_id, 150, actor=admin)
    # then the refusal and the refund are both logged, with the refunded total before and after
    denied, refund = rows(AuditLog.action.in_((audit.DENIED, "order.refund")))
    assert (denied.action, denied.actor_label, denied.data["data"]["permission"]) == (
        audit.DENIED,
        OPERATOR,
        "refund_above_limit",
    )
    assert (refund.action, refund.actor_label, refund.ip_address) == ("order.refund", ADMIN, ADMIN_IP)
    assert (refund.data["before"], refund.data["after"]) == ({"refunded_minor": 0}, {"refunded_minor": 150})
    assert refund.data["data"]["amount_minor"] == 150


async def test_a_job_run_by_hand_is_logged_with_its_outcome(db_url):
    from smplat.ui.pages.admin.jobs import JobsState

    state = await page_state(JobsState, OPERATOR, Role.OPERATOR, OPERATOR_IP, "/admin/jobs")
    answer = await JobsState.run_now.fn(state, "purge_sessions")
    assert "purge_sessions" in str(answer)
    (run,) = rows(AuditLog.action == "job.run")
    assert (run.entity_type, run.entity_id, run.actor_label, run.ip_address) == (
        "job",
        "purge_sessions",
        OPERATOR,
        OPERATOR_IP,
    )
    assert run.data["data"]["outcome"] == "succeeded"


async def test_resync_and_check_now_are_logged(session, panel):
    from tests.fulfillment_factory import seed_with_panel

    provider = seed_with_panel(session, panel.base_url)
    path, params = f"/admin/providers/{provider.id}", {"provider_id": str(provider.id)}
    state = await page_state(ProviderDetailState, OPERATOR, Role.OPERATOR, OPERATOR_IP, path, params)
    await ProviderDetailState.resync.fn(state)
    await ProviderDetailState.check_now.fn(state)
    sync, check = rows()
    assert (sync.action, sync.entity_id, sync.actor_label, sync.ip_address) == (
        "provider.sync",
        str(provider.id),
        OPERATOR,
        OPERATOR_IP,
    )
    assert sync.data["data"]["updated"] > 0
    assert (check.action, check.data["data"]["checked"], check.data["data"]["healthy"]) == ("provider.check", 1, 1)


def test_a_staff_member_refused_by_an_api_route_is_logged(db_url):
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    from smplat.api._access import protected
    from smplat.settings import get_settings

    @protected(Permission.MANAGE_STAFF)
    def staff_only(request):
        return JSONResponse({"ok": True})

    client = TestClient(Starlette(routes=[Route("/api/staff-only", staff_only, methods=["POST"])]))
    client.cookies.set(get_settings().session_cookie_name, session_cookie(make_user(OPERATOR, Role.OPERATOR)))
    answer = client.post("/api/staff-only")
    assert (answer.status_code, answer.json()["code"]) == (403, "forbidden")
    (denied,) = rows()
    assert (denied.action, denied.actor_label, denied.entity_type, denied.entity_id) == (
        audit.DENIED,
        OPERATOR,
        "api",
        "POST /api/staff-only",
    )
    assert denied.ip_address == "testclient" and denied.data["data"]["permission"] == "manage_staff"


async def test_order_refill_and_scheduled_replay_from_the_order_page_are_logged(session, panel):
    from smplat.services.fulfillment import engine, status_sync
    from tests.fulfillment_factory import seed_with_panel

    # given a delivered line
    seed_with_panel(session, panel.base_url)
    order = paid_order(session, [(product(session, "instagram-followers"), "https://instagram.com/aud", 500, 690)])
    await asyncio.to_thread(engine.run_fulfillment, session_scope)  # it runs its own event loop
    await asyncio.to_thread(status_sync.sync_statuses, session_scope)
    session.expire_all()
    item = session.execute(select(OrderItem).where(OrderItem.order_id == order.id)).scalars().one()
    state = await page_state(
        OrderDetailState,
        OPERATOR,
        Role.OPERATOR,
        OPERATOR_IP,
        f"/admin/orders/{order.number}",
        {"number": order.number},
    )
    state.load()
    # when the operator asks for a refill and schedules a replay
    state.act({"item_id": str(item.id), "action": "refill", "reason": "dropped 40"})
    assert state.error == ""
    run_at = (utcnow() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    state.act({"item_id": str(item.id), "action": "schedule", "reason": "second wave", "run_at": run_at})
    assert state.error == ""
    # then
    refill, scheduled = rows()
    assert (refill.action, refill.entity_id, refill.data["data"]["reason"]) == (
        "order.refill",
        str(item.id),
        "dropped 40",
    )
    assert refill.data["data"]["order"] == order.number
    assert (scheduled.action, scheduled.data["data"]["reason"]) == ("order.schedule_replay", "second wave")
    assert scheduled.data["data"]["run_at"].startswith(run_at)
    assert {(r.actor_label, r.ip_address, r.data["role"]) for r in (refill, scheduled)} == {
        (OPERATOR, OPERATOR_IP, "operator")
    }
