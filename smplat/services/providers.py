"""Providers: create/edit (API key encrypted, never shown back), service sync and import/export,
health and balance checks, and the panel client for a provider row."""

from __future__ import annotations

import asyncio
import csv
import io
import ipaddress
import json
import logging
import re
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlparse

from sqlalchemy import func, select
from sqlmodel import Session

from smplat.integrations.dialects import PanelDialect
from smplat.integrations.panel import (
    PanelBlocked,
    PanelClient,
    PanelError,
    PanelRefused,
    PanelService,
    parse_service,
    shared_limiter,
)
from smplat.models.base import utcnow
from smplat.models.catalog import Product
from smplat.models.providers import (
    Provider,
    ProviderHealth,
    ProviderHealthCheck,
    ProviderService,
    ProviderServiceStatus,
    ServiceRoute,
)
from smplat.services import audit
from smplat.services.csv_safe import restore_cell, write_csv
from smplat.services.permissions import Permission
from smplat.services.secrets_box import decrypt, encrypt
from smplat.settings import get_settings

logger = logging.getLogger(__name__)

_SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,79}$")


class ProviderInputError(ValueError):
    """Bad provider form, import file or panel answer; nothing was changed.

    `problems` holds one line per bad row of an import file (empty for other errors)."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = list(problems or [])


def client_for(provider: Provider, *, max_connections: int = 50) -> PanelClient:
    """The panel client speaking this provider's dialect (`Provider.dialect`)."""
    dialect = PanelDialect.from_stored(provider.dialect)
    # the dialect's own rate limit, when it names one, wins over the provider's setting;
    # either way it is one bucket for the whole process (every run, job and thread)
    rate = dialect.rate_limit_per_second or provider.rate_limit_per_second
    limiter = shared_limiter(f"provider:{provider.id}:{provider.base_url}", rate)
    return PanelClient(
        provider.base_url,
        decrypt(provider.api_key_encrypted) if provider.api_key_encrypted else "",
        timeout_seconds=provider.timeout_seconds,
        rate_limit_per_second=rate,
        max_connections=max_connections,
        limiter=limiter,
        url_guard=outbound_problem,
        dialect=dialect,
    )


# --- outbound safety ---------------------------------------------------------------------


def _forbidden_kind(address: str) -> str | None:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_private or ip.is_unspecified or ip.is_reserved or ip.is_multicast or not ip.is_global:
        return "private"
    return None


def outbound_problem(url: str) -> str | None:
    """Why a provider base URL may not receive the API key (None: it may).

    It must be http(s), and every address its host resolves to must be public, unless the
    host (or host:port) is in `Settings.outbound_allowlist`. A host that does not resolve
    passes here: the call itself then fails, and the check runs again before every call."""
    parsed = urlparse(url.strip())
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return "base URL must be an http(s) URL, e.g. https://panel.example/api/v2"
    try:
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
    except ValueError:
        return "base URL has an invalid port"
    host = parsed.hostname.lower()
    allowed = get_settings().outbound_allowlist
    if host in allowed or f"{host}:{port}" in allowed:
        return None
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)}
    except (socket.gaierror, UnicodeError):
        return None
    for address in sorted(addresses):
        kind = _forbidden_kind(address)
        if kind:
            return (
                f"base URL host {host} resolves to a {kind} address; such hosts must be listed in "
                "SMPLAT_OUTBOUND_ALLOWED_HOSTS"
            )
    return None


def describe_failure(exc: Exception) -> str:
    """A short, classified sentence for pages: never the provider's raw reply."""
    if isinstance(exc, PanelBlocked):
        return "the base URL is not allowed (private or loopback address)"
    if isinstance(exc, PanelRefused):
        return "the panel refused the request (check the API key and the base URL)"
    text = str(exc)
    if "timed out" in text:
        return "the panel did not answer in time"
    if "HTTP 5" in text:
        return "the panel answered with a server error"
    if "malformed JSON" in text or "expected a" in text:
        return "the panel answered something that is not the panel API"
    if isinstance(exc, PanelError):
        return "the panel could not be reached"
    return "the check failed"


# --- create / edit ---------------------------------------------------------------------


@dataclass(frozen=True)
class ProviderForm:
    name: str
    slug: str
    base_url: str
    api_key: str = ""  # empty on edit: keep the stored key
    rate_limit_per_second: int = 5
    timeout_seconds: int = 20
    low_balance_threshold: str = ""
    is_active: bool = True


def _validate(form: ProviderForm, *, creating: bool) -> dict[str, Any]:
    errors = []
    name, slug, url = form.name.strip(), form.slug.strip().lower(), form.base_url.strip()
    if not name or len(name) > 120:
        errors.append("name is required (at most 120 characters)")
    if not _SLUG_RE.match(slug):
        errors.append("slug must be 2–80 lower-case letters, digits or dashes")
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        errors.append("base URL must be an http(s) URL, e.g. https://panel.example/api/v2")
    elif (problem := outbound_problem(url)) is not None:
        errors.append(problem)
    if creating and not form.api_key.strip():
        errors.append("API key is required")
    if not 1 <= int(form.rate_limit_per_second) <= 1000:
        errors.append("rate limit must be 1–1000 calls per second")
    if not 1 <= int(form.timeout_seconds) <= 120:
        errors.append("timeout must be 1–120 seconds")
    threshold = None
    if form.low_balance_threshold.strip():
        try:
            threshold = Decimal(form.low_balance_threshold.strip())
            if threshold < 0:
                raise InvalidOperation
        except InvalidOperation:
            errors.append("low balance threshold must be a non-negative amount")
    if errors:
        raise ProviderInputError("; ".join(errors))
    return {
        "name": name,
        "slug": slug,
        "base_url": url,
        "rate_limit_per_second": int(form.rate_limit_per_second),
        "timeout_seconds": int(form.timeout_seconds),
        "low_balance_threshold": threshold,
        "is_active": form.is_active,
    }


# What the audit log compares on a provider edit; the key appears only as "changed" (masked).
AUDITED_FIELDS = (*ProviderForm.__dataclass_fields__.keys() - {"api_key"}, "api_key_encrypted")


def _audited(provider: Provider) -> dict[str, Any]:
    return audit.snapshot(provider, sorted(AUDITED_FIELDS))


def create_provider(session: Session, form: ProviderForm, *, actor: audit.Actor) -> Provider:
    """Admins only (`MANAGE_PROVIDERS`, checked here: the page, the CLI and tests all call this)."""
    audit.require(actor, Permission.MANAGE_PROVIDERS, "provider.create", "provider", form.slug.strip().lower())
    values = _validate(form, creating=True)
    if session.execute(select(Provider.id).where(Provider.slug == values["slug"])).first():
        raise ProviderInputError(f"a provider with slug {values['slug']!r} exists")
    provider = Provider(**values, api_key_encrypted=encrypt(form.api_key.strip()))
    session.add(provider)
    session.flush()
    audit.record(session, actor, "provider.create", "provider", provider.id, before={}, after=_audited(provider))
    return provider


def update_provider(session: Session, provider_id: int, form: ProviderForm, *, actor: audit.Actor) -> Provider:
    """Admins only: the base URL and the key decide where orders and money go."""
    audit.require(actor, Permission.MANAGE_PROVIDERS, "provider.update", "provider", provider_id)
    provider = session.get(Provider, provider_id)
    if provider is None:
        raise ProviderInputError("no such provider")
    before = _audited(provider)
    values = _validate(form, creating=False)
    clash = session.execute(
        select(Provider.id).where(Provider.slug == values["slug"], Provider.id != provider_id)
    ).first()
    if clash:
        raise ProviderInputError(f"a provider with slug {values['slug']!r} exists")
    for key, value in values.items():
        setattr(provider, key, value)
    if form.api_key.strip():
        provider.api_key_encrypted = encrypt(form.api_key.strip())
    provider.updated_at = utcnow()
    session.add(provider)
    session.flush()
    audit.record(session, actor, "provider.update", "provider", provider.id, before=before, after=_audited(provider))
    return provider


# --- services: sync, import, export ---------------------------------------------------


def apply_services(
    session: Session, provider: Provider, listed: list[PanelService], now: datetime, *, mark_vanished: bool = True
) -> dict[str, int]:
    """Upsert what the panel lists; mark what it no longer lists vanished (never deleted)."""
    existing = {
        s.external_service_id: s
        for s in session.execute(select(ProviderService).where(ProviderService.provider_id == provider.id)).scalars()
    }
    counts = {"created": 0, "updated": 0, "vanished": 0, "returned": 0}
    seen = set()
    for entry in listed:
        seen.add(entry.service)
        row = existing.get(entry.service)
        if row is None:
            row = ProviderService(provider_id=provider.id, external_service_id=entry.service, name=entry.name)
            counts["created"] += 1
        else:
            counts["updated"] += 1
            if row.status == ProviderServiceStatus.VANISHED.value:
                row.status, row.vanished_at = ProviderServiceStatus.ACTIVE.value, None
                counts["returned"] += 1
        row.name, row.type, row.category = entry.name, entry.type, entry.category
        row.rate_per_1000, row.min_quantity, row.max_quantity = entry.rate, entry.min, entry.max
        row.refill, row.cancel, row.dripfeed = entry.refill, entry.cancel, entry.dripfeed
        row.raw, row.last_synced_at, row.updated_at = entry.raw, now, now
        session.add(row)
    if mark_vanished:
        for ext_id, row in existing.items():
            if ext_id not in seen and row.status == ProviderServiceStatus.ACTIVE.value:
                row.status, row.vanished_at, row.updated_at = ProviderServiceStatus.VANISHED.value, now, now
                session.add(row)
                counts["vanished"] += 1
    session.flush()
    return counts


def mark_service_vanished(session: Session, service_id: int, now: datetime) -> None:
    service = session.get(ProviderService, service_id)
    if service is not None and service.status == ProviderServiceStatus.ACTIVE.value:
        service.status, service.vanished_at, service.updated_at = ProviderServiceStatus.VANISHED.value, now, now
        session.add(service)


def sync_services(
    session: Session, provider_id: int, now: datetime | None = None, *, actor: audit.Actor
) -> dict[str, int]:
    """Fetch `services` from the panel and apply it (raises PanelError on failure, nothing changed)."""
    audit.require(actor, Permission.SYNC_PROVIDERS, "provider.sync", "provider", provider_id)
    now = now or utcnow()
    provider = session.get(Provider, provider_id)
    if provider is None:
        raise ProviderInputError("no such provider")

    async def fetch() -> list[PanelService]:
        async with client_for(provider) as client:
            return await client.services()

    listed = asyncio.run(fetch())
    counts = apply_services(session, provider, listed, now)
    audit.record(session, actor, "provider.sync", "provider", provider_id, data=counts)
    return counts


EXPORT_FIELDS = ["service", "name", "type", "category", "rate", "min", "max", "refill", "cancel", "dripfeed", "status"]


def export_services(session: Session, provider_id: int, fmt: str, *, actor: audit.Actor) -> str:
    """The provider's services as CSV (formula cells neutralised) or JSON; the export is audited."""
    audit.require(actor, Permission.VIEW_PROVIDERS, "provider.export", "provider", provider_id)
    rows = [
        {
            "service": s.external_service_id,
            "name": s.name,
            "type": s.type,
            "category": s.category,
            "rate": str(s.rate_per_1000),
            "min": s.min_quantity,
            "max": s.max_quantity,
            "refill": s.refill,
            "cancel": s.cancel,
            "dripfeed": s.dripfeed,
            "status": s.status,
        }
        for s in session.execute(
            select(ProviderService)
            .where(ProviderService.provider_id == provider_id)
            .order_by(ProviderService.external_service_id)
        ).scalars()
    ]
    if fmt not in ("csv", "json"):
        raise ProviderInputError("format must be csv or json")
    audit.record(session, actor, "provider.export", "provider", provider_id, data={"format": fmt, "rows": len(rows)})
    if fmt == "json":
        return json.dumps(rows, indent=2) + "\n"
    return write_csv(rows, EXPORT_FIELDS)


def parse_services_file(text: str, fmt: str) -> list[PanelService]:
    """Validate every row first; any bad row refuses the whole file, each named by its line number."""
    if fmt == "json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ProviderInputError(f"not valid JSON: {exc.msg} at line {exc.lineno}") from None
        if not isinstance(data, list):
            raise ProviderInputError("JSON must be a list of services")
        rows: Iterable[tuple[int, Any]] = enumerate(data, start=1)
        label = "entry"
    elif fmt == "csv":
        reader = csv.DictReader(io.StringIO(text))
        missing = {"service", "name", "rate", "min", "max"} - set(reader.fieldnames or [])
        if missing:
            raise ProviderInputError(f"CSV is missing columns: {', '.join(sorted(missing))}")
        rows = enumerate(({key: restore_cell(value) for key, value in row.items()} for row in reader), start=2)
        label = "line"
    else:
        raise ProviderInputError("format must be csv or json")
    parsed, seen, problems = [], set(), []
    for number, row in rows:
        if not isinstance(row, dict):
            problems.append(f"{label} {number}: not an object")
            continue
        try:
            service = parse_service(row)
        except PanelError as exc:
            problems.append(f"{label} {number}: {exc}")
            continue
        if service.service in seen:
            problems.append(f"{label} {number}: service {service.service} appears twice")
            continue
        seen.add(service.service)
        parsed.append(service)
    if problems:
        raise ProviderInputError(
            f"{len(problems)} bad row(s); nothing was imported: " + "; ".join(problems[:5]), problems
        )
    return parsed


def import_services(
    session: Session, provider_id: int, text: str, fmt: str, now: datetime | None = None, *, actor: audit.Actor
) -> dict[str, int]:
    """Import a CSV/JSON service list (same shape as the panel's `services`); services missing
    from the file are left as they are (an import adds and updates, a sync also marks vanished).

    A JSON object `{"dialect": {...}, "services": [...]}` (the `dialect` export, services
    optional) also sets the provider's dialect; everything is validated before anything changes.
    Admins only (`MANAGE_PROVIDERS`)."""
    audit.require(actor, Permission.MANAGE_PROVIDERS, "provider.import", "provider", provider_id)
    provider = session.get(Provider, provider_id)
    if provider is None:
        raise ProviderInputError("no such provider")
    if (problem := outbound_problem(provider.base_url)) is not None:
        raise ProviderInputError(f"this provider cannot be used: {problem}")
    dialect = None
    if fmt == "json" and text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ProviderInputError(f"not valid JSON: {exc.msg} at line {exc.lineno}") from None
        if "dialect" not in data:
            raise ProviderInputError('a JSON object must hold "dialect" (and optionally "services")')
        dialect = _parse_dialect(data["dialect"])
        text = json.dumps(data.get("services") or [])
    listed = parse_services_file(text, fmt)
    counts = apply_services(session, provider, listed, now or utcnow(), mark_vanished=False)
    before_dialect = provider.dialect
    if dialect is not None:
        provider.dialect, provider.updated_at = dialect.stored(), utcnow()
        session.add(provider)
        counts["dialect"] = 1
    audit.record(
        session,
        actor,
        "provider.import",
        "provider",
        provider_id,
        before={"dialect": before_dialect} if dialect is not None else None,
        after={"dialect": provider.dialect} if dialect is not None else None,
        data={"format": fmt, **counts},
    )
    return counts


# --- dialect -----------------------------------------------------------------------------


def _parse_dialect(data: Any) -> PanelDialect:
    try:
        return PanelDialect.parse(data)
    except ValueError as exc:
        raise ProviderInputError(f"dialect: {exc}") from None


def update_dialect(session: Session, provider_id: int, data: Any, *, actor: audit.Actor) -> PanelDialect:
    """Validate and store a dialect (a dict or JSON text; `{"preset": name}` alone takes the
    preset as it is). Bad input raises ProviderInputError and changes nothing. Admins only."""
    audit.require(actor, Permission.MANAGE_PROVIDERS, "provider.dialect", "provider", provider_id)
    provider = session.get(Provider, provider_id)
    if provider is None:
        raise ProviderInputError("no such provider")
    dialect = _parse_dialect(data)
    before = provider.dialect
    provider.dialect, provider.updated_at = dialect.stored(), utcnow()
    session.add(provider)
    audit.record(
        session,
        actor,
        "provider.dialect",
        "provider",
        provider_id,
        before={"dialect": before},
        after={"dialect": provider.dialect},
    )
    session.flush()
    return dialect


def export_dialect(session: Session, provider_id: int, *, actor: audit.Actor) -> str:
    """The provider's dialect as JSON (the shape `import_services` takes back); audited."""
    audit.require(actor, Permission.VIEW_PROVIDERS, "provider.export", "provider", provider_id)
    provider = session.get(Provider, provider_id)
    if provider is None:
        raise ProviderInputError("no such provider")
    payload = {"provider": provider.slug, "dialect": PanelDialect.from_stored(provider.dialect).stored()}
    audit.record(session, actor, "provider.export", "provider", provider_id, data={"format": "dialect"})
    return json.dumps(payload, indent=2, sort_keys=True) + "\n"


async def _connection_calls(provider: Provider) -> str:
    started = time.monotonic()
    step = "services"
    try:
        async with client_for(provider) as client:
            listed = await client.services()
            step = "balance"
            balance = await client.balance()
    except PanelError as exc:
        # classified, never the panel's reply (docs/security.md, outbound safety)
        return f"Connection failed at {step}: {describe_failure(exc)}."
    except Exception:  # a malformed service entry and the like
        return f"Connection failed at {step}: the panel answered something that is not the panel API."
    elapsed = int((time.monotonic() - started) * 1000)
    money = f"{balance.balance} {balance.currency}".strip()
    return f"Connected: {len(listed)} services listed, balance {money} ({elapsed} ms)."


def try_connection(session: Session, provider_id: int, *, actor: audit.Actor) -> tuple[bool, str]:
    """The "Test connection" button: `services` then `balance` in the provider's dialect;
    (ok, one sentence). Changes nothing (Check now is the recorded health check)."""
    audit.require(actor, Permission.SYNC_PROVIDERS, "provider.test_connection", "provider", provider_id)
    provider = session.get(Provider, provider_id)
    if provider is None:
        raise ProviderInputError("no such provider")
    if (problem := outbound_problem(provider.base_url)) is not None:
        return False, f"Connection not tried: {problem}."
    session.expunge(provider)
    message = asyncio.run(_connection_calls(provider))
    return message.startswith("Connected"), message


def products_needing_attention(session: Session) -> list[dict[str, Any]]:
    """Products with an active route to a vanished or disabled service (flagged in the admin)."""
    rows = session.execute(
        select(Product.id, Product.title, ProviderService.external_service_id, ProviderService.status, Provider.name)
        .join(ServiceRoute, ServiceRoute.product_id == Product.id)
        .join(ProviderService, ProviderService.id == ServiceRoute.provider_service_id)
        .join(Provider, Provider.id == ProviderService.provider_id)
        .where(ServiceRoute.is_active.is_(True), ProviderService.status != ProviderServiceStatus.ACTIVE.value)
        .order_by(Product.title)
    ).all()
    return [
        {"product_id": r[0], "product": r[1], "service": r[2], "service_status": r[3], "provider": r[4]} for r in rows
    ]


# --- health and balance -----------------------------------------------------------------


async def _probe(provider: Provider) -> tuple[bool, int, Any, list[PanelService] | None, str]:
    started = time.monotonic()
    try:
        async with client_for(provider) as client:
            balance = await client.balance()
            services = await client.services()
        return True, int((time.monotonic() - started) * 1000), balance, services, ""
    except PanelError as exc:
        # the raw reply stays in the log; the row (shown on pages) holds the classified sentence
        logger.warning("provider %s health check failed: %s", provider.slug, exc)
        return False, int((time.monotonic() - started) * 1000), None, None, describe_failure(exc)


def check_providers(session_factory: Any, now: datetime, *, provider_id: int | None = None) -> dict[str, int]:
    """Health + balance + service re-sync of every active provider (the 15-minute job), or of
    one provider (the admin's "Check now")."""
    with session_factory() as session:
        query = select(Provider).where(Provider.is_active.is_(True)).order_by(Provider.id)
        if provider_id is not None:
            query = query.where(Provider.id == provider_id)
        providers = list(session.execute(query).scalars())

    async def probe_all() -> list[Any]:
        return await asyncio.gather(*(_probe(p) for p in providers))

    results = asyncio.run(probe_all()) if providers else []
    counts = {"checked": 0, "healthy": 0, "down": 0, "low_balance": 0, "services_vanished": 0}
    with session_factory() as session:
        for provider, (ok, latency, balance, services, error) in zip(providers, results, strict=True):
            row = session.get(Provider, provider.id)
            counts["checked"] += 1
            session.add(
                ProviderHealthCheck(
                    provider_id=row.id,
                    checked_at=now,
                    ok=ok,
                    latency_ms=latency,
                    balance=balance.balance if balance else None,
                    balance_currency=balance.currency if balance else None,
                    error=error,
                )
            )
            row.last_health_check_at = now
            if ok:
                row.health_status = ProviderHealth.HEALTHY.value
                row.balance, row.balance_currency = balance.balance, balance.currency or row.balance_currency
                counts["healthy"] += 1
                counts["services_vanished"] += apply_services(session, row, services, now)["vanished"]
                if row.low_balance_threshold is not None and row.balance < row.low_balance_threshold:
                    counts["low_balance"] += 1
            else:
                # two failed checks in a row: down (routing skips it); one: degraded
                last = session.execute(
                    select(ProviderHealthCheck.ok)
                    .where(ProviderHealthCheck.provider_id == row.id)
                    .order_by(ProviderHealthCheck.checked_at.desc(), ProviderHealthCheck.id.desc())
                    .offset(1)
                    .limit(1)
                ).scalar()
                row.health_status = ProviderHealth.DOWN.value if last is False else ProviderHealth.DEGRADED.value
                counts["down"] += row.health_status == ProviderHealth.DOWN.value
            session.add(row)
    return counts


def last_check(session: Session, provider_id: int) -> tuple[bool, str]:
    """What "Check now" shows: (True, "healthy") or (False, the classified reason of the newest check)."""
    row = (
        session.execute(
            select(ProviderHealthCheck)
            .where(ProviderHealthCheck.provider_id == provider_id)
            .order_by(ProviderHealthCheck.checked_at.desc(), ProviderHealthCheck.id.desc())
            .limit(1)
        )
        .scalars()
        .first()
    )
    if row is None:
        return False, "The provider has not been checked yet."
    if row.ok:
        return True, "Provider is healthy."
    return False, f"The provider did not answer: {row.error or 'the check failed'}."


def last_check_message(session: Session, provider_id: int) -> str:
    return last_check(session, provider_id)[1]


def provider_overview(session: Session) -> list[dict[str, Any]]:
    """Providers with health, balance and service counts for the admin (two queries)."""
    counts = dict(
        session.execute(select(ProviderService.provider_id, func.count()).group_by(ProviderService.provider_id)).all()
    )
    vanished = dict(
        session.execute(
            select(ProviderService.provider_id, func.count())
            .where(ProviderService.status != ProviderServiceStatus.ACTIVE.value)
            .group_by(ProviderService.provider_id)
        ).all()
    )
    newest = (
        select(ProviderHealthCheck.provider_id, func.max(ProviderHealthCheck.id).label("id"))
        .group_by(ProviderHealthCheck.provider_id)
        .subquery()
    )
    problems = dict(
        session.execute(
            select(ProviderHealthCheck.provider_id, ProviderHealthCheck.error)
            .join(newest, newest.c.id == ProviderHealthCheck.id)
            .where(ProviderHealthCheck.ok.is_(False))
        ).all()
    )
    out = []
    for p in session.execute(select(Provider).order_by(Provider.name)).scalars():
        out.append(
            {
                "id": p.id,
                "name": p.name,
                "slug": p.slug,
                "base_url": p.base_url,
                "health": p.health_status,
                "balance": "" if p.balance is None else f"{p.balance} {p.balance_currency or ''}".strip(),
                "low_balance": p.balance is not None
                and p.low_balance_threshold is not None
                and p.balance < p.low_balance_threshold,
                "services": counts.get(p.id, 0),
                "vanished": vanished.get(p.id, 0),
                "active": p.is_active,
                "checked": p.last_health_check_at.strftime("%Y-%m-%d %H:%M UTC") if p.last_health_check_at else "never",
                # the newest check failed: its classified reason (never the panel's raw reply)
                "problem": (problems.get(p.id) or "") if p.is_active else "",
            }
        )
    return out


# --- start-up reachability ----------------------------------------------------------------


async def _answers(provider: Provider) -> str | None:
    try:
        async with client_for(provider) as client:
            await client.balance()
    except PanelError as exc:
        logger.debug("provider %s start-up check: %s", provider.slug, exc)
        return describe_failure(exc)
    return None


def warn_unreachable_providers(session_factory: Any, now: datetime) -> list[str]:
    """At start-up: ask every active provider for its balance; for each that does not answer,
    log one warning line and record a failed health check (shown on the admin providers page),
    without changing its health (the provider_health job decides that). Returns the warnings."""
    with session_factory() as session:
        providers = list(
            session.execute(select(Provider).where(Provider.is_active.is_(True)).order_by(Provider.id)).scalars()
        )
        for provider in providers:
            session.expunge(provider)

    async def ask_all() -> list[str | None]:
        return await asyncio.gather(*(_answers(p) for p in providers))

    problems = asyncio.run(ask_all()) if providers else []
    warnings: list[str] = []
    with session_factory() as session:
        for provider, problem in zip(providers, problems, strict=True):
            if problem is None:
                continue
            line = f"provider {provider.slug} does not answer at {provider.base_url}: {problem}"
            logger.warning(line)
            warnings.append(line)
            session.add(
                ProviderHealthCheck(provider_id=provider.id, checked_at=now, ok=False, error=f"At start-up: {problem}")
            )
    return warnings
