"""Outbound safety: a provider base URL must be http(s) and may not point at loopback, private
or link-local addresses unless listed in SMPLAT_OUTBOUND_ALLOWED_HOSTS (dev/test also allow
the sandbox panel's 127.0.0.1/localhost); checked on create, edit, import and before every
call; a provider's reply never reaches a page raw."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from sqlalchemy import func, select

from smplat.db import session_scope
from smplat.models.base import utcnow
from smplat.models.providers import Provider, ProviderHealthCheck, ProviderService
from smplat.sandbox.panel import PanelSandbox
from smplat.services import audit, providers
from smplat.services.providers import ProviderForm, ProviderInputError
from smplat.services.secrets_box import encrypt
from smplat.services.seed import SANDBOX_API_KEY
from smplat.settings import reset_settings_cache

pytestmark = pytest.mark.integration

INTERNAL_SECRET = "INTERNAL-ADMIN-TOKEN-8f3a"


@pytest.fixture
def prod(monkeypatch):
    """The allowlist as production sees it (only what SMPLAT_OUTBOUND_ALLOWED_HOSTS lists)."""
    monkeypatch.setenv("SMPLAT_ENV", "prod")
    reset_settings_cache()
    yield
    reset_settings_cache()


def _count(model) -> int:
    with session_scope() as db:
        return db.execute(select(func.count()).select_from(model)).scalar_one()


ADMIN = audit.Actor.cli()  # provider changes are admin-only; the shell account acts as one


def _form(url: str, slug: str = "evil") -> ProviderForm:
    return ProviderForm(name="Evil", slug=slug, base_url=url, api_key="sk-secret-key-1")


ALWAYS_REFUSED = [
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.5/api/v2",
    "http://192.168.1.1:8080/api/v2",
    "http://172.16.3.4/api/v2",
    "http://[::1]:6379/",
    "http://[::ffff:127.0.0.1]:8091/api/v2",
    "http://0.0.0.0:8091/api/v2",
    "http://127.0.0.2:8091/api/v2",
    "ftp://panel.example/api/v2",
    "file:///etc/passwd",
]


@pytest.mark.parametrize("url", ALWAYS_REFUSED)
def test_private_link_local_and_non_http_urls_are_refused_on_create(db_url, url):
    # when an operator creates a provider pointing there
    with pytest.raises(ProviderInputError) as refused, session_scope() as db:
        providers.create_provider(db, _form(url), actor=ADMIN)
    # then it is refused with a reason, and no provider exists
    assert "base URL" in str(refused.value)
    assert _count(Provider) == 0


@pytest.mark.parametrize("url", ["http://127.0.0.1:6379/", "http://localhost:8091/api/v2"])
def test_loopback_is_refused_in_production(db_url, prod, url):
    with pytest.raises(ProviderInputError) as refused, session_scope() as db:
        providers.create_provider(db, _form(url), actor=ADMIN)
    assert "loopback address" in str(refused.value)
    assert _count(Provider) == 0


def test_the_sandbox_address_is_allowed_in_dev_and_test(db_url):
    with session_scope() as db:
        provider = providers.create_provider(
            db, _form("http://127.0.0.1:8091/api/v2", slug="sandbox-copy"), actor=ADMIN
        )
        assert provider.base_url == "http://127.0.0.1:8091/api/v2"
    assert _count(Provider) == 1


def test_an_allowed_internal_host_and_port_is_accepted_and_only_that_port(db_url, prod, monkeypatch):
    monkeypatch.setenv("SMPLAT_OUTBOUND_ALLOWED_HOSTS", "10.0.0.5:8443, panel.internal")
    reset_settings_cache()
    with session_scope() as db:
        providers.create_provider(db, _form("https://10.0.0.5:8443/api/v2", slug="internal"), actor=ADMIN)
    with pytest.raises(ProviderInputError), session_scope() as db:
        providers.create_provider(db, _form("https://10.0.0.5:9000/api/v2", slug="other-port"), actor=ADMIN)
    assert _count(Provider) == 1


def _stored_provider(url: str, slug: str = "legacy") -> int:
    """A provider row written before the check existed (straight into the table)."""
    with session_scope() as db:
        row = Provider(name="Legacy", slug=slug, base_url=url, api_key_encrypted=encrypt(SANDBOX_API_KEY))
        db.add(row)
        db.flush()
        return row.id


def test_edit_to_a_loopback_url_is_refused_and_nothing_changes(db_url, prod):
    provider_id = _stored_provider("https://panel.example/api/v2")
    with pytest.raises(ProviderInputError), session_scope() as db:
        providers.update_provider(db, provider_id, _form("http://127.0.0.1:5432/", slug="legacy"), actor=ADMIN)
    with session_scope() as db:
        assert db.get(Provider, provider_id).base_url == "https://panel.example/api/v2"


def test_import_for_a_provider_with_a_loopback_url_is_refused(db_url, prod):
    provider_id = _stored_provider("http://127.0.0.1:8091/api/v2")
    with pytest.raises(ProviderInputError) as refused, session_scope() as db:
        providers.import_services(
            db, provider_id, "service,name,rate,min,max\n900,Likes,1.00,10,100\n", "csv", actor=ADMIN
        )
    assert "loopback" in str(refused.value)
    assert _count(ProviderService) == 0


def test_no_call_leaves_for_a_stored_loopback_provider_in_production(db_url, prod):
    # given a live panel on loopback and a provider row pointing at it (stored before the check)
    with PanelSandbox(port=0) as panel:
        provider_id = _stored_provider(panel.base_url)
        # when the health job / "Check now" checks it
        counts = providers.check_providers(session_scope, utcnow(), provider_id=provider_id)
        # then the panel never saw a request (the key never left), and the check says why, briefly
        assert panel.state.calls == []
    assert (counts["checked"], counts["healthy"]) == (1, 0)
    with session_scope() as db:
        message = providers.last_check_message(db, provider_id)
        assert _count(ProviderHealthCheck) == 1
    assert message == "The provider did not answer: the base URL is not allowed (private or loopback address)."


class _InternalPage(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = f"<html><body>admin console {INTERNAL_SECRET}</body></html>".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def test_a_reply_that_is_not_the_panel_api_is_never_shown(db_url):
    # given a provider pointing at an (allowed) internal page that answers HTML with a secret
    server = HTTPServer(("127.0.0.1", 0), _InternalPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        provider_id = _stored_provider(f"http://127.0.0.1:{server.server_port}/api/v2")
        # when checked, and when its services are re-synced
        providers.check_providers(session_scope, utcnow(), provider_id=provider_id)
        with pytest.raises(Exception) as failed, session_scope() as db:
            providers.sync_services(db, provider_id, actor=ADMIN)
    finally:
        server.shutdown()
        server.server_close()
    # then what a page shows is a classified sentence, never the reply
    with session_scope() as db:
        message = providers.last_check_message(db, provider_id)
        stored = db.execute(select(ProviderHealthCheck.error)).scalar_one()
    shown_on_resync = providers.describe_failure(failed.value)
    assert message == "The provider did not answer: the panel answered something that is not the panel API."
    assert shown_on_resync == "the panel answered something that is not the panel API"
    for text in (message, stored, shown_on_resync, str(failed.value)):
        assert INTERNAL_SECRET not in text and "admin console" not in text
    assert _count(ProviderService) == 0
