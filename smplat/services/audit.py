"""The audit log: who changed what, when, from where, and the values before and after.

Every staff action (providers, content, experiments, payment links, order actions, refunds,
dead letters, jobs run by hand, exports, staff roles) calls `record` with an `Actor` in the
same session as the change, so the row and the change are committed together or not at all.
A refused attempt by staff is written by `record_refusal` in its own transaction: the
caller's unit of work rolls back, the refusal stays.

Only the fields that changed are stored (`diff`), and secrets never are: a key, password
hash, token or TOTP secret is replaced by `SECRET_MASK` (the log says that it changed).
The table is append-only (`smplat.models.audit`); `page` reads it newest first with a
keyset on the primary key, and `export_csv` writes it through `csv_safe`.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from smplat.models.accounts import Role
from smplat.models.audit import AuditLog
from smplat.models.orders import ActorType
from smplat.services import permissions
from smplat.services.csv_safe import write_csv
from smplat.services.permissions import Permission

SECRET_MASK = "••••••"
# A field whose name contains one of these is never stored, only marked as changed.
SECRET_MARKERS = ("api_key", "password", "secret", "token", "totp", "otp")
PAGE_SIZE = 50
DENIED = "permission.denied"


@dataclass(frozen=True)
class Actor:
    """Who acts: a signed-in staff member (id, email, role, IP), the CLI or a job.

    It also works as an order-timeline actor (`type`, `label`, `user_id`), so order actions
    take it as they are."""

    user_id: int | None
    label: str
    role: str
    ip: str = ""
    type: str = ActorType.OPERATOR.value

    @classmethod
    def staff(cls, user_id: int, email: str, role: str, ip: str = "") -> Actor:
        return cls(user_id, email, str(role), ip or "", ActorType.OPERATOR.value)

    @classmethod
    def cli(cls, user: Any | None = None) -> Actor:
        """The `smplat` command: a named staff user (`--as EMAIL`) with their role, or the
        shell account, which holds the database URL and so acts as an admin."""
        if user is not None:
            return cls(user.id, user.email, user.role, "cli", ActorType.OPERATOR.value)
        try:
            login = getpass.getuser()
        except Exception:  # pragma: no cover - no login name in a bare container
            login = "unknown"
        return cls(None, f"cli:{login}", Role.ADMIN.value, "cli", ActorType.SYSTEM.value)

    @classmethod
    def job(cls, name: str) -> Actor:
        return cls(None, f"job:{name}", Role.ADMIN.value, "", ActorType.JOB.value)

    def may(self, permission: Permission | str) -> bool:
        return permissions.has_permission(self.role, permission)


def require(actor: Actor, permission: Permission | str, action: str, target_type: str, target_id: Any = "") -> None:
    """A service's own role check: raise `PermissionDenied` unless the actor holds `permission`,
    after recording the refusal (its own transaction: it survives the caller's rollback)."""
    if actor.may(permission):
        return
    message = permissions.refusal_message(permission)
    record_refusal(actor, permission, action=action, target_type=target_type, target_id=target_id, message=message)
    raise permissions.PermissionDenied(message)


# --- values -------------------------------------------------------------------------------------


def is_secret(name: str) -> bool:
    lowered = name.lower()
    return any(marker in lowered for marker in SECRET_MARKERS)


def plain(value: Any) -> Any:
    """A JSON-safe value: money and decimals as text, times in ISO 8601, enums by value."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): (SECRET_MASK if is_secret(str(k)) else plain(v)) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [plain(v) for v in value]
    return str(value)


def diff(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """{"before": {...}, "after": {...}} holding only the fields whose value changed; a secret
    field that changed appears as `SECRET_MASK` on both sides."""
    before, after = dict(before or {}), dict(after or {})
    old: dict[str, Any] = {}
    new: dict[str, Any] = {}
    for name in list(dict.fromkeys([*before, *after])):
        was, now = plain(before.get(name)), plain(after.get(name))
        if was == now:
            continue
        if is_secret(name):
            old[name] = SECRET_MASK if name in before and before.get(name) not in (None, "") else None
            new[name] = SECRET_MASK if name in after and after.get(name) not in (None, "") else None
            continue
        if name in before:
            old[name] = was
        if name in after:
            new[name] = now
    return {"before": old, "after": new}


def snapshot(row: Any, fields: Iterable[str]) -> dict[str, Any]:
    """The named fields of a model row (or a mapping), for `before=` / `after=`."""
    if isinstance(row, Mapping):
        return {name: row.get(name) for name in fields}
    return {name: getattr(row, name, None) for name in fields}


# --- writing ---------------------------------------------------------------------------------------


def record(
    session: Session,
    actor: Actor,
    action: str,
    target_type: str,
    target_id: Any = "",
    *,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    data: Mapping[str, Any] | None = None,
    at: datetime | None = None,
) -> AuditLog:
    """Append one audit row in the caller's session (committed with the change it describes).

    `before`/`after` are reduced to the fields that changed; `data` holds other parameters
    (counts, a reason, a format). Secret fields are masked everywhere."""
    body: dict[str, Any] = {}
    if before is not None or after is not None:
        body.update(diff(before, after))
    if data:
        body["data"] = plain(dict(data))
    row = AuditLog(
        actor_user_id=actor.user_id,
        actor_label=(actor.label or "")[:200],
        action=action[:80],
        entity_type=target_type[:60],
        entity_id=str(target_id if target_id is not None else "")[:64],
        data={**body, "role": actor.role},
        ip_address=(actor.ip or "")[:64],
    )
    if at is not None:
        row.created_at = at
    session.add(row)
    session.flush()
    return row


def record_refusal(
    actor: Actor,
    permission: Permission | str,
    *,
    action: str = "",
    target_type: str = "permission",
    target_id: Any = "",
    message: str = "",
) -> None:
    """A staff member was refused: one `permission.denied` row, in its own transaction."""
    from smplat.db import session_scope  # the service modules do not open sessions otherwise

    with session_scope() as db:
        record(
            db,
            actor,
            DENIED,
            target_type,
            target_id,
            data={"permission": str(permission), "attempted": action, "message": message},
        )


# --- reading ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    actor: str = ""  # part of the actor's email/label
    action: str = ""  # an action name or its prefix ("provider." for every provider action)
    target: str = ""  # "type" or "type:id"
    date_from: date | None = None
    date_to: date | None = None  # inclusive

    @classmethod
    def parse(cls, values: Mapping[str, Any]) -> Filters:
        """Filters from a form or a query string; a malformed date is a `ServiceError`."""
        from smplat.services.errors import ServiceError

        def day(name: str) -> date | None:
            raw = str(values.get(name, "") or "").strip()
            if not raw:
                return None
            try:
                return date.fromisoformat(raw)
            except ValueError:
                raise ServiceError("Dates look like 2026-11-26.", field=name) from None

        return cls(
            actor=str(values.get("actor", "") or "").strip()[:200],
            action=str(values.get("action", "") or "").strip()[:80],
            target=str(values.get("target", "") or "").strip()[:130],
            date_from=day("date_from"),
            date_to=day("date_to"),
        )


def _query(filters: Filters):
    query = select(AuditLog)
    if filters.actor:
        query = query.where(AuditLog.actor_label.ilike(f"%{_like(filters.actor.lower())}%", escape="\\"))
    if filters.action:
        if filters.action.endswith("."):
            query = query.where(AuditLog.action.startswith(filters.action, autoescape=True))
        else:
            query = query.where(AuditLog.action == filters.action)
    if filters.target:
        kind, _, ident = filters.target.partition(":")
        query = query.where(AuditLog.entity_type == kind.strip())
        if ident.strip():
            query = query.where(AuditLog.entity_id == ident.strip())
    if filters.date_from:
        query = query.where(AuditLog.created_at >= datetime.combine(filters.date_from, time.min, UTC))
    if filters.date_to:
        query = query.where(AuditLog.created_at < datetime.combine(filters.date_to + timedelta(days=1), time.min, UTC))
    return query


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def page(
    session: Session, filters: Filters = Filters(), *, before_id: int | None = None, limit: int = PAGE_SIZE
) -> tuple[list[dict[str, Any]], int | None]:
    """One page of rows, newest first, and the id to pass as `before_id` for the next page
    (None on the last). Keyset on the primary key: one query whatever the page number."""
    query = _query(filters)
    if before_id is not None:
        query = query.where(AuditLog.id < before_id)
    rows = list(session.execute(query.order_by(AuditLog.id.desc()).limit(limit + 1)).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    return [view(r) for r in rows], (rows[-1].id if more and rows else None)


def _changes(data: Mapping[str, Any]) -> str:
    before, after = data.get("before") or {}, data.get("after") or {}
    parts = []
    for name in dict.fromkeys([*before, *after]):
        parts.append(f"{name}: {_short(before.get(name))} → {_short(after.get(name))}")
    extra = data.get("data") or {}
    parts.extend(f"{k}={_short(v)}" for k, v in extra.items())
    return "; ".join(parts)


def _short(value: Any) -> str:
    text = "—" if value is None else value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 120 else text[:117] + "…"


def view(row: AuditLog) -> dict[str, Any]:
    return {
        "id": row.id,
        "time": row.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "actor": row.actor_label,
        "role": str((row.data or {}).get("role", "")),
        "action": row.action,
        "target": f"{row.entity_type}:{row.entity_id}" if row.entity_id else row.entity_type,
        "ip": row.ip_address,
        "changes": _changes(row.data or {}),
    }


CSV_FIELDS = ["time", "actor", "role", "action", "target", "ip", "changes"]
EXPORT_LIMIT = 10_000


def export_csv(session: Session, actor: Actor, filters: Filters = Filters()) -> str:
    """The filtered log as CSV (formula cells neutralised), newest first, at most
    `EXPORT_LIMIT` rows; the export itself is recorded (in the caller's transaction)."""
    require(actor, Permission.VIEW_AUDIT_LOG, "audit.export", "audit_log")
    rows = list(session.execute(_query(filters).order_by(AuditLog.id.desc()).limit(EXPORT_LIMIT)).scalars())
    text = write_csv(({k: v for k, v in view(r).items() if k in CSV_FIELDS} for r in rows), CSV_FIELDS)
    record(
        session,
        actor,
        "audit.export",
        "audit_log",
        data={"rows": len(rows), "filters": {k: v for k, v in vars(filters).items() if v}},
    )
    return text
