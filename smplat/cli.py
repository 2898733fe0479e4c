"""Command line: `smplat run` starts the whole shop; `migrate`, `seed`, `check-db` do one step.

`run` applies migrations, seeds the demo data into an empty database, then starts the
local sandboxes, the jobs process and the web app (production build, pages and API on
one port) as child processes, prints where to go and how to sign in, and on Ctrl-C
stops them all in reverse order.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx

from smplat.db import DatabaseUnavailable, check_database, describe_url, session_scope
from smplat.settings import PROJECT_ROOT, get_settings

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Children get SIGTERM if the run command itself is killed, so nothing is orphaned."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


@dataclass
class Child:
    """A child process in its own process group, its output prefixed line by line."""

    name: str
    argv: Sequence[str]
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None

    def start(self, quiet: bool = False) -> None:
        self.process = subprocess.Popen(
            list(self.argv),
            cwd=PROJECT_ROOT,
            env={**os.environ, **self.env, "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        threading.Thread(target=self._pump, args=(quiet,), daemon=True).start()

    def _pump(self, quiet: bool) -> None:
        assert self.process and self.process.stdout
        for raw in self.process.stdout:
            if not quiet:
                line = raw.decode("utf-8", "replace").rstrip()
                if line:
                    print(f"[{self.name}] {line}", flush=True)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 15.0) -> None:
        """SIGINT, then SIGTERM, then SIGKILL to the whole process group."""
        if not self.alive():
            return
        assert self.process
        for sig, wait in ((signal.SIGINT, timeout), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.process.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue
        # Reflex leaves bun/granian grandchildren in the same group; make sure they are gone.
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def web_child(port: int, env: dict[str, str] | None = None) -> Child:
    reflex = os.path.join(os.path.dirname(sys.executable), "reflex")
    argv = [
        reflex,
        "run",
        "--env",
        "prod",
        "--single-port",
        "--frontend-port",
        str(port),
        "--backend-port",
        str(port),
        "--loglevel",
        "warning",
    ]
    return Child("web", argv, {"SMPLAT_PORT": str(port), **(env or {})})


def jobs_child(env: dict[str, str] | None = None) -> Child:
    return Child("jobs", [sys.executable, "-m", "jobs"], env or {})


def sandbox_child(env: dict[str, str] | None = None) -> Child:
    return Child("sandbox", [sys.executable, "-m", "smplat.sandbox"], env or {})


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def wait_until_healthy(url: str, children: Sequence[Child], timeout: float) -> bool:
    """Poll the health route until it answers 200, a child dies, or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(not child.alive() for child in children):
            return False
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    return False


# --- steps ----------------------------------------------------------------------------


def _database_reachable() -> bool:
    """Say in one line why the database cannot be used, instead of a traceback."""
    try:
        check_database()
    except DatabaseUnavailable as exc:
        print(f"smplat: {exc}", file=sys.stderr)
        return False
    return True


def prepare_database() -> dict[str, int] | None:
    """Migrate to head; seed the demo data when the database has no products and no users."""
    from sqlalchemy import func, select

    from smplat.migrate import upgrade_to_head
    from smplat.models.accounts import User
    from smplat.models.catalog import Product
    from smplat.services.seed import align_sandbox_provider, seed_demo

    upgrade_to_head()
    with session_scope() as db:
        if align_sandbox_provider(db):
            print("smplat: the sandbox provider now uses the configured SMPLAT_SANDBOX_PANEL_PORT", flush=True)
        empty = (
            db.execute(select(func.count()).select_from(Product)).scalar_one() == 0
            and db.execute(select(func.count()).select_from(User)).scalar_one() == 0
        )
        if not empty:
            return None
        return seed_demo(db)


def _banner(url: str) -> str:
    from smplat.services.seed import DEMO_ACCOUNTS

    settings = get_settings()
    width = max(len(email) for email, *_ in DEMO_ACCOUNTS) + 2
    lines = [
        "",
        "=" * 64,
        f"  {settings.brand_name} is running at {url}",
        "",
        "  Demo sign-ins:",
        *[f"    {role:<9} {email:<{width}} {password}" for email, password, role, _name in DEMO_ACCOUNTS],
        "  (admins set up two-factor sign-in with an authenticator app at their first sign-in)",
        "",
        f"  Emails (password resets) land in {settings.sandbox_mailbox_dir}",
        f"  Database: {describe_url(settings.database_url)}",
        "  Press Ctrl-C to stop everything.",
        "=" * 64,
        "",
    ]
    return "\n".join(lines)


def cmd_run(_args: argparse.Namespace) -> int:
    settings = get_settings()
    unsafe = settings.production_refusal("smplat")
    if unsafe is not None:
        print(unsafe, file=sys.stderr)
        return 2
    if not _database_reachable():
        return 2
    if not port_is_free(settings.port):
        print(f"smplat: port {settings.port} is in use; stop what runs there or set SMPLAT_PORT", file=sys.stderr)
        return 2
    print("smplat: applying migrations…", flush=True)
    seeded = prepare_database()
    if seeded is not None:
        print(f"smplat: seeded the demo catalog and accounts ({sum(seeded.values())} rows)", flush=True)

    children: list[Child] = []
    if settings.sandbox_enabled:
        children.append(sandbox_child())
    children += [jobs_child(), web_child(settings.port)]

    stopping = threading.Event()

    def on_signal(_signum: int, _frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    exit_code = 0
    try:
        for child in children:
            child.start()
        print("smplat: building and starting the web app (the first build takes a minute)…", flush=True)
        url = f"http://localhost:{settings.port}"
        ready = False
        deadline = time.monotonic() + 900
        while not stopping.is_set() and time.monotonic() < deadline:
            if wait_until_healthy(f"http://127.0.0.1:{settings.port}/api/health", children, timeout=1.0):
                ready = True
                break
            if any(not c.alive() for c in children):
                break
        if ready:
            print(_banner(url), flush=True)
        while not stopping.is_set():
            dead = [c for c in children if not c.alive()]
            if dead:
                print(
                    f"smplat: the {dead[0].name} process stopped (exit {dead[0].process.returncode}); "
                    "stopping the rest",
                    file=sys.stderr,
                    flush=True,
                )
                exit_code = 1
                break
            stopping.wait(0.5)
    finally:
        print("smplat: stopping…", flush=True)
        for child in reversed(children):
            child.stop()
        print("smplat: stopped", flush=True)
    return exit_code


def cmd_migrate(_args: argparse.Namespace) -> int:
    from smplat.migrate import upgrade_to_head

    try:
        upgrade_to_head()
    except DatabaseUnavailable as exc:
        print(f"smplat: {exc}", file=sys.stderr)
        return 2
    print(f"smplat: {describe_url(get_settings().database_url)} is at the newest revision")
    return 0


def cmd_seed(_args: argparse.Namespace) -> int:
    from smplat.services.seed import seed_demo

    if not _database_reachable():
        return 2
    with session_scope() as db:
        created = seed_demo(db)
    print(f"smplat: demo seed created {sum(created.values())} rows")
    return 0


def cmd_check_db(_args: argparse.Namespace) -> int:
    if not _database_reachable():
        return 2
    print(f"smplat: {describe_url(get_settings().database_url)} is reachable")
    return 0


def _provider_id(db, slug: str) -> int | None:
    from sqlalchemy import select

    from smplat.models.providers import Provider

    found = db.execute(select(Provider.id).where(Provider.slug == slug)).scalar()
    if found is None:
        print(f"smplat: no provider with slug {slug!r}", file=sys.stderr)
    return found


def _cli_actor(db, email: str | None):
    """Who runs the command, for the role check and the audit log: the staff user named by
    `--as EMAIL` (with their role), or the shell account (it holds DATABASE_URL: an admin)."""
    from sqlalchemy import select

    from smplat.models.accounts import User
    from smplat.services import accounts, audit

    if not email:
        return audit.Actor.cli()
    user = db.execute(select(User).where(User.email == accounts.normalize_email(email))).scalars().first()
    if user is None or not user.is_active or not accounts.is_staff(user.role):
        print(f"smplat: no active staff account {email!r}", file=sys.stderr)
        return None
    return audit.Actor.cli(user)


def cmd_providers_export(args: argparse.Namespace) -> int:
    from smplat.services.permissions import PermissionDenied
    from smplat.services.providers import export_dialect, export_services

    if not _database_reachable():
        return 2
    try:
        with session_scope() as db:
            actor = _cli_actor(db, args.actor)
            provider_id = _provider_id(db, args.provider) if actor else None
            if provider_id is None:
                return 2
            if args.format == "dialect":
                text = export_dialect(db, provider_id, actor=actor)
            else:
                text = export_services(db, provider_id, args.format, actor=actor)
    except PermissionDenied as exc:
        print(f"smplat: {exc.message}", file=sys.stderr)
        return 2
    if args.output:
        with open(args.output, "w", encoding="utf-8", newline="") as out:
            out.write(text)
        what = "dialect" if args.format == "dialect" else "services"
        print(f"smplat: wrote {args.provider} {what} to {args.output}")
    else:
        sys.stdout.write(text)
    return 0


def cmd_providers_import(args: argparse.Namespace) -> int:
    from smplat.services.permissions import PermissionDenied
    from smplat.services.providers import ProviderInputError, import_services

    fmt = os.path.splitext(args.file)[1].lower().lstrip(".")
    if fmt not in ("csv", "json"):
        print("smplat: the file must end in .csv or .json", file=sys.stderr)
        return 2
    try:
        with open(args.file, encoding="utf-8-sig", newline="") as handle:
            text = handle.read()
    except OSError as exc:
        print(f"smplat: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    if not _database_reachable():
        return 2
    try:
        with session_scope() as db:
            actor = _cli_actor(db, args.actor)
            provider_id = _provider_id(db, args.provider) if actor else None
            if provider_id is None:
                return 2
            counts = import_services(db, provider_id, text, fmt, actor=actor)
    except PermissionDenied as exc:
        print(f"smplat: {exc.message}", file=sys.stderr)
        print("smplat: nothing was imported", file=sys.stderr)
        return 2
    except ProviderInputError as exc:
        for line in exc.problems or [str(exc)]:
            print(f"smplat: {line}", file=sys.stderr)
        print("smplat: nothing was imported", file=sys.stderr)
        return 2
    print(f"smplat: imported {args.provider} services: {counts['created']} created, {counts['updated']} updated")
    if counts.get("dialect"):
        print(f"smplat: imported {args.provider} dialect")
    return 0


def _amount_minor(text: str) -> int | None:
    """ "25", "25.50", "-3" -> minor units; None when it is not an amount with at most 2 decimals."""
    from smplat.services.money import parse_amount

    return parse_amount(text, allow_negative=True)


def cmd_resellers_credit(args: argparse.Namespace) -> int:
    from smplat.db import session_scope
    from smplat.services import resellers
    from smplat.services.errors import ServiceError

    if not _database_reachable():
        return 1
    amount = _amount_minor(args.amount)
    if amount is None:
        print(f"smplat: {args.amount!r} is not an amount like 25 or 25.50", file=sys.stderr)
        return 2
    try:
        with session_scope() as db:
            actor = _cli_actor(db, args.actor)
            if actor is None:
                return 1
            entry = resellers.adjust(db, actor, args.email, amount, args.reason)
            print(f"smplat: balance of {args.email} is now {entry.balance_after_minor / 100:.2f}")
    except ServiceError as exc:
        print(f"smplat: {exc.message}", file=sys.stderr)
        return 1
    return 0


def cmd_resellers_create_key(args: argparse.Namespace) -> int:
    from smplat.db import session_scope
    from smplat.services import resellers
    from smplat.services.errors import ServiceError

    if not _database_reachable():
        return 1
    try:
        with session_scope() as db:
            actor = _cli_actor(db, args.actor)
            if actor is None:
                return 1
            account = resellers.enable(db, actor, args.email)
            row, raw = resellers.create_key(db, account, args.name, args.ip)
    except ServiceError as exc:
        print(f"smplat: {exc.message}", file=sys.stderr)
        return 1
    print(f"smplat: API key {row.name!r} for {args.email} (shown once, store it now):", file=sys.stderr)
    print(raw)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="smplat", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="migrate, seed an empty database, start sandboxes + jobs + web").set_defaults(fn=cmd_run)
    sub.add_parser("migrate", help="apply Alembic migrations to DATABASE_URL").set_defaults(fn=cmd_migrate)
    sub.add_parser("seed", help="create the demo catalog and accounts (idempotent)").set_defaults(fn=cmd_seed)
    sub.add_parser("check-db", help="say whether DATABASE_URL is reachable").set_defaults(fn=cmd_check_db)
    providers = sub.add_parser("providers", help="export or import a provider's services").add_subparsers(
        dest="providers_command", required=True
    )
    export = providers.add_parser("export", help="write a provider's services as CSV or JSON, or its dialect")
    export.add_argument("--provider", required=True, help="provider slug")
    export.add_argument(
        "--format", choices=["csv", "json", "dialect"], default="csv", help="dialect: {'dialect': ...} as JSON"
    )
    export.add_argument("--output", help="file to write (default: standard output)")
    export.add_argument("--as", dest="actor", metavar="EMAIL", help="the staff account acting (audit log, role)")
    export.set_defaults(fn=cmd_providers_export)
    load = providers.add_parser("import", help="add/update a provider's services from a .csv or .json file")
    load.add_argument("--provider", required=True, help="provider slug")
    load.add_argument(
        "file", help="a .csv or .json file in the export's shape; a JSON object with 'dialect' also sets the dialect"
    )
    load.add_argument("--as", dest="actor", metavar="EMAIL", help="the staff account acting (audit log, role)")
    load.set_defaults(fn=cmd_providers_import)
    resellers_cmd = sub.add_parser("resellers", help="reseller wallets and API keys").add_subparsers(
        dest="resellers_command", required=True
    )
    credit = resellers_cmd.add_parser("credit", help="credit (or, negative, debit) a reseller's wallet")
    credit.add_argument("--email", required=True, help="the reseller's account email")
    credit.add_argument("--amount", required=True, help="in the wallet's currency, e.g. 25 or 25.50 (or -5)")
    credit.add_argument("--reason", default="operator credit", help="why (kept in the ledger and audit log)")
    credit.add_argument("--as", dest="actor", metavar="EMAIL", help="the staff account acting (audit log, role)")
    credit.set_defaults(fn=cmd_resellers_credit)
    key = resellers_cmd.add_parser("create-key", help="create an API key for a reseller (printed once)")
    key.add_argument("--email", required=True, help="the reseller's account email")
    key.add_argument("--name", default="", help="a name for the key")
    key.add_argument("--ip", action="append", default=[], help="allow only this IP or network (repeatable)")
    key.add_argument("--as", dest="actor", metavar="EMAIL", help="the staff account acting (audit log, role)")
    key.set_defaults(fn=cmd_resellers_create_key)
    args = parser.parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
