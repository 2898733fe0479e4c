"""Operator pages that update themselves while open: one shared mixin, one statement per tick.

A live page's state mixes in `LiveState` and names the permission of its data in a class
variable (`class SalesState(AuthState, LiveState): live_permission: ClassVar[Permission] =
Permission.VIEW_ANALYTICS`, the same as its loader's). It writes two methods:

- `_live_read(db)`: ONE cheap statement (a service's `live_version`) that changes whenever what
  the page shows may have changed;
- `_live_refresh()`: reads the page's data again, with the operator's current filters, search,
  window and page cursor (it never touches what they typed or chose).

Its guarded loader calls `_live_load()` (instead of its refresh): the version is read first and
the data after it, so a change in between only costs one more reload, never a missed one.

The page renders `live_ticker(State.live_tick)`: an `rx.moment` that unmounts with the page, so
polling stops when it closes. The tick is the same for every page: while the page is armed
(only a guarded loader or reload arms it, in a backend var no browser can set) it runs the one
statement; when the version moved it disarms and sends `live_reload`, generated per page and
guarded by the page's own `live_permission` (`requires`), which re-resolves the session,
refuses a signed-out or under-privileged tab (and a refused reload leaves the page disarmed, so
its ticks stop) or reloads and re-arms. An unarmed tab's tick (a signed-out visitor, a customer,
an operator on an admin-only page: their loader was refused) does nothing and reads nothing.
"""

from __future__ import annotations

from typing import Any, ClassVar

import reflex as rx
from sqlmodel import Session

from smplat.db import session_scope
from smplat.services.permissions import Permission
from smplat.settings import get_settings
from smplat.ui.state.auth import requires

LIVE_INTERVAL_MS = int(get_settings().live_poll_seconds * 1000)


def live_ticker(handler: Any) -> rx.Component:
    """The page's heartbeat while it is open: unmounted (and silent) once the page closes."""
    return rx.box(rx.moment(interval=LIVE_INTERVAL_MS, on_change=handler), display="none")


def _guarded_reload(state_name: str, permission: Permission) -> Any:
    def live_reload(self: LiveState) -> None:
        """The page's data again, for a tab that may still see it; re-arms the ticker."""
        self._live_load()

    live_reload.__qualname__ = f"{state_name}.live_reload"  # the audit log's name of a refusal
    return rx.event(requires(permission)(live_reload))


class LiveState(rx.State, mixin=True):
    """The shared tick of the admin pages that update themselves (see the module docstring)."""

    _live_version: str = ""
    _live_on: bool = False
    live_permission: ClassVar[Permission]
    # True: `_live_refresh` reads the page's version (what `_live_read` reads) before its data
    # and returns it, saving the load a statement
    live_version_in_refresh: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        permission = cls.__dict__.get("live_permission")
        if not isinstance(permission, Permission):
            raise TypeError(f"{cls.__name__} mixes in LiveState: set live_permission = Permission.X")
        if "live_reload" in cls.__dict__:
            raise TypeError(f"{cls.__name__}: live_reload is made from live_permission; do not write it")
        missing = [name for name in ("_live_read", "_live_refresh") if getattr(cls, name) is getattr(LiveState, name)]
        if missing:
            raise TypeError(f"{cls.__name__} mixes in LiveState: write {' and '.join(missing)}")
        cls.live_reload = _guarded_reload(cls.__name__, permission)
        super().__init_subclass__(**kwargs)

    # --- what each page writes -------------------------------------------------------------

    # (declared here for the shared code below; a page that leaves either out is refused at
    # import by __init_subclass__, so these bodies never run)

    def _live_read(self, db: Session) -> str:
        """The page's ONE change-detection statement."""
        raise TypeError("a live page writes _live_read")

    def _live_refresh(self) -> str | None:
        """The page's data again, keeping the operator's filters, search and page cursor (and
        the version read before it, with `live_version_in_refresh`)."""
        raise TypeError("a live page writes _live_refresh")

    # --- shared --------------------------------------------------------------------------------

    def _live_load(self) -> None:
        """Version first, data after (a change in between means one more reload, not a lost one).
        A page whose refresh reads the version itself, before its data (in the round trip that
        plans them: `live_version_in_refresh`), returns it instead."""
        if self.live_version_in_refresh:
            version = self._live_refresh()
            if not isinstance(version, str):
                raise TypeError(f"{type(self).__name__}._live_refresh must return the version it read")
            self._live_version = version
        else:
            with session_scope() as db:
                self._live_version = self._live_read(db)
            self._live_refresh()
        self._live_on = True

    @rx.event
    def live_tick(self, _moment: Any = None):
        """One statement; the page's guarded reload only when the version moved."""
        if not self._live_on:
            return None
        with session_scope() as db:
            version = self._live_read(db)
        if version == self._live_version:
            return None
        self._live_on = False  # the reload re-arms; a refused one leaves the page silent
        return type(self).live_reload
