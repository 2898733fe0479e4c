"""Local SMM panel speaking panel API v2 over real HTTP, with knobs for every way panels misbehave.

POST /api/v2 with form fields `key` and `action` (services, add, status, refill,
refill_status, cancel, balance), answering like real panels: `{"error": ...}` with HTTP
200, numbers as strings, per-id errors in batch answers. Knobs (`PanelKnobs`, settable
in-process or with `POST /sandbox/knobs` as JSON):

- latency_ms, error_rate (HTTP 500 before doing anything), malformed_rate (HTTP 200 with a
  broken body, after doing the work), random seed (deterministic runs);
- dialect: "standard" (Title Case words, integers) or "messy" (lower case, `Cancelled`,
  every number a string, `"remains": "Unknown"` while running);
- polls_to_complete: how many status polls an order takes to finish;
- partial_rate / partial_links and partial_ratio: orders that end Partial with that share
  remaining; cancel_links: orders that end Canceled;
- refuse_active_link: "You have active order with this link" while an order on the link runs;
- lookup_by_ref: False is the "no lookup" mode of real panels: `ref` is ignored on `add` and
  `status` by `ref` answers "Incorrect order ID" (`smplat run` takes it from
  SMPLAT_SANDBOX_PANEL_LOOKUP; in-process: `PanelSandbox(knobs=PanelKnobs(lookup_by_ref=False))`);
- balance (orders cost rate x quantity / 1000 and are refused when it runs out);
- removed_services: services no longer listed (vanished upstream);
- script: a queue of one-shot faults for the next calls of an action ("http500", "http429",
  "malformed", "hang", "error:<text>", and for add "hang_after_create": the order is
  created, then the answer never comes, the ambiguous case).

Besides the protocol, the sandbox accepts `ref` on `add` and `status` with `ref` (our
submission key) so the engine can reconcile an unanswered `add` (unless `lookup_by_ref` is
off); see docs/architecture.md and docs/providers.md, "Reconcile without lookup".
`GET /sandbox/orders` lists every order it holds (with what it delivered and the service's
category), for tests, demos and the Instagram sandbox, whose numbers follow what was delivered.
"""

from __future__ import annotations

import asyncio
import random
import socket
import threading
import time
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

DEFAULT_API_KEY = "sandbox-demo-key"


@dataclass
class PanelKnobs:
    latency_ms: int = 0
    error_rate: float = 0.0
    malformed_rate: float = 0.0
    dialect: str = "standard"
    polls_to_complete: int = 1
    partial_rate: float = 0.0
    partial_links: list[str] = field(default_factory=list)
    partial_ratio: float = 0.25
    cancel_links: list[str] = field(default_factory=list)
    refuse_active_link: bool = False
    lookup_by_ref: bool = True
    balance: str = "1000000.00"
    currency: str = "EUR"
    removed_services: list[str] = field(default_factory=list)
    refill_reject: bool = False
    hang_seconds: float = 30.0
    seed: int = 7
    script: dict[str, list[str]] = field(default_factory=dict)


def _default_services() -> list[dict[str, Any]]:
    from smplat.services.seed import SANDBOX_SERVICES

    return [
        {
            "service": ext_id,
            "name": name,
            "type": type_,
            "category": category,
            "rate": rate,
            "min": str(min_q),
            "max": str(max_q),
            "refill": refill,
            "cancel": cancel,
            "dripfeed": dripfeed,
        }
        for ext_id, name, type_, category, rate, min_q, max_q, refill, _days, cancel, dripfeed in SANDBOX_SERVICES
    ]


@dataclass
class SandboxOrder:
    id: int
    service: str
    link: str
    quantity: int
    charge: Decimal
    ref: str | None
    start_count: int
    polls: int = 0
    final: str = "Completed"
    remains_final: int = 0
    final_reached: bool = False


class PanelState:
    """Everything the panel remembers; guarded by one lock (handlers are short)."""

    def __init__(self, api_key: str = DEFAULT_API_KEY, knobs: PanelKnobs | None = None) -> None:
        self.api_key = api_key
        self.knobs = knobs or PanelKnobs()
        self.services = _default_services()
        self.orders: dict[int, SandboxOrder] = {}
        self.refills: dict[int, dict[str, Any]] = {}
        self.by_ref: dict[str, int] = {}
        self.calls: list[str] = []  # action per request, in arrival order
        self.next_id = 1000
        self.next_refill = 500
        self.lock = threading.Lock()
        self.rng = random.Random(self.knobs.seed)

    def set_knobs(self, **values: Any) -> None:
        with self.lock:
            for name, value in values.items():
                if not hasattr(self.knobs, name):
                    raise ValueError(f"unknown knob: {name}")
                setattr(self.knobs, name, value)
            if "seed" in values:
                self.rng = random.Random(self.knobs.seed)

    def script(self, action: str, *faults: str) -> None:
        with self.lock:
            self.knobs.script.setdefault(action, []).extend(faults)

    def reset(self) -> None:
        with self.lock:
            self.knobs = PanelKnobs()
            self.services = _default_services()
            self.orders.clear()
            self.refills.clear()
            self.by_ref.clear()
            self.calls.clear()
            self.next_id, self.next_refill = 1000, 500
            self.rng = random.Random(self.knobs.seed)

    def orders_by_link(self) -> dict[str, list[int]]:
        with self.lock:
            result: dict[str, list[int]] = {}
            for order in self.orders.values():
                result.setdefault(order.link, []).append(order.id)
            return result


# --- protocol ------------------------------------------------------------------------


def _num(state: PanelState, value: Any) -> Any:
    return str(value) if state.knobs.dialect == "messy" else value


def _word(state: PanelState, word: str) -> str:
    if state.knobs.dialect == "messy":
        return "Cancelled".lower() if word == "Canceled" else word.lower()
    return word


def _order_status(state: PanelState, order: SandboxOrder, *, poll: bool) -> dict[str, Any]:
    if poll and not order.final_reached:
        order.polls += 1
        if order.polls >= state.knobs.polls_to_complete:
            order.final_reached = True
    if order.final_reached:
        word, remains = order.final, order.remains_final
    else:
        word, remains = ("Pending" if order.polls == 0 else "In progress"), order.quantity
    remains_out: Any = remains
    if state.knobs.dialect == "messy" and not order.final_reached:
        remains_out = "Unknown"
    delivered_share = Decimal(order.quantity - remains) / Decimal(order.quantity) if order.quantity else Decimal(0)
    charge = (order.charge * delivered_share).quantize(Decimal("0.0001")) if order.final_reached else order.charge
    return {
        "charge": str(charge),
        "start_count": _num(state, order.start_count),
        "status": _word(state, word),
        "remains": _num(state, remains_out),
        "currency": state.knobs.currency,
    }


def _handle(state: PanelState, form: dict[str, str]) -> Any:
    action = form.get("action", "")
    if form.get("key") != state.api_key:
        return {"error": "Invalid API key"}
    knobs = state.knobs
    if action == "services":
        return [s for s in state.services if s["service"] not in knobs.removed_services]
    if action == "balance":
        return {"balance": knobs.balance, "currency": knobs.currency}
    if action == "add":
        service = next(
            (
                s
                for s in state.services
                if s["service"] == form.get("service") and s["service"] not in knobs.removed_services
            ),
            None,
        )
        if service is None:
            return {"error": "Incorrect service ID"}
        link = (form.get("link") or "").strip()
        if not link:
            return {"error": "Incorrect link"}
        try:
            quantity = int(form.get("quantity", ""))
        except ValueError:
            return {"error": "Incorrect quantity"}
        if quantity < int(service["min"]) or quantity > int(service["max"]):
            return {"error": f"Quantity must be between {service['min']} and {service['max']}"}
        ref = (form.get("ref") or None) if knobs.lookup_by_ref else None
        if ref and ref in state.by_ref:
            return {"order": state.by_ref[ref]}  # the same submission key answers the same order
        if knobs.refuse_active_link and any(o.link == link and not o.final_reached for o in state.orders.values()):
            return {"error": "You have active order with this link. Please wait until order being completed."}
        charge = (Decimal(service["rate"]) * quantity / 1000).quantize(Decimal("0.0001"))
        balance = Decimal(knobs.balance)
        if charge > balance:
            return {"error": "Not enough funds on balance"}
        knobs.balance = str(balance - charge)
        order = SandboxOrder(
            id=state.next_id,
            service=service["service"],
            link=link,
            quantity=quantity,
            charge=charge,
            ref=ref,
            start_count=state.rng.randint(100, 5000),
        )
        state.next_id += 1
        if link in knobs.cancel_links:
            order.final, order.remains_final = "Canceled", quantity
        elif link in knobs.partial_links or (knobs.partial_rate and state.rng.random() < knobs.partial_rate):
            order.final, order.remains_final = "Partial", max(1, int(quantity * knobs.partial_ratio))
        state.orders[order.id] = order
        if ref:
            state.by_ref[ref] = order.id
        return {"order": _num(state, order.id)}
    if action == "status":
        if form.get("ref") and knobs.lookup_by_ref:
            found = state.by_ref.get(form["ref"])
            return {"order": _num(state, found)} if found is not None else {"error": "Order not found"}
        if form.get("orders"):
            answer: dict[str, Any] = {}
            for raw in form["orders"].split(",")[:100]:
                raw = raw.strip()
                order = state.orders.get(int(raw)) if raw.isdigit() else None
                answer[raw] = _order_status(state, order, poll=True) if order else {"error": "Incorrect order ID"}
            return answer
        raw = (form.get("order") or "").strip()
        order = state.orders.get(int(raw)) if raw.isdigit() else None
        return _order_status(state, order, poll=True) if order else {"error": "Incorrect order ID"}
    if action == "refill":
        raw = (form.get("order") or "").strip()
        order = state.orders.get(int(raw)) if raw.isdigit() else None
        if order is None:
            return {"error": "Incorrect order ID"}
        service = next(s for s in state.services if s["service"] == order.service)
        if not service["refill"]:
            return {"error": "Refill is not available for this order"}
        refill_id = state.next_refill
        state.next_refill += 1
        state.refills[refill_id] = {"order": order.id, "polls": 0}
        return {"refill": _num(state, refill_id)}
    if action == "refill_status":
        raw = (form.get("refill") or "").strip()
        refill = state.refills.get(int(raw)) if raw.isdigit() else None
        if refill is None:
            return {"error": "Incorrect refill ID"}
        refill["polls"] += 1
        if knobs.refill_reject:
            return {"status": _word(state, "Rejected")}
        done = refill["polls"] >= knobs.polls_to_complete
        return {"status": _word(state, "Completed" if done else "In progress")}
    if action == "cancel":
        result = []
        for raw in (form.get("orders") or "").split(","):
            raw = raw.strip()
            order = state.orders.get(int(raw)) if raw.isdigit() else None
            if order is None:
                result.append({"order": raw, "cancel": {"error": "Incorrect order ID"}})
            elif order.final_reached:
                result.append({"order": _num(state, order.id), "cancel": {"error": "Order is already finished"}})
            else:
                order.final, order.remains_final, order.final_reached = "Canceled", order.quantity, True
                result.append({"order": _num(state, order.id), "cancel": 1})
        return result
    return {"error": "Incorrect request"}


def build_app(state: PanelState) -> Starlette:
    async def api(request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        action = form.get("action", "")
        with state.lock:
            state.calls.append(action)
            queue = state.knobs.script.get(action) or []
            fault = queue.pop(0) if queue else None
            latency = state.knobs.latency_ms / 1000
            roll_error = state.rng.random() < state.knobs.error_rate if state.knobs.error_rate else False
            roll_malformed = state.rng.random() < state.knobs.malformed_rate if state.knobs.malformed_rate else False
            hang = state.knobs.hang_seconds
        if latency:
            await asyncio.sleep(latency)
        if fault == "http500" or roll_error:
            return Response("<html>502 Bad Gateway</html>", status_code=502, media_type="text/html")
        if fault == "http429":  # turned away before any work, the way rate-limited panels answer
            return JSONResponse({"error": "Too many requests"}, status_code=429)
        if fault == "hang":
            await asyncio.sleep(hang)
            return JSONResponse({"error": "too late"})
        if fault and fault.startswith("error:"):
            return JSONResponse({"error": fault[len("error:") :]})
        with state.lock:
            answer = _handle(state, form)
        if fault == "hang_after_create":
            await asyncio.sleep(hang)
        if fault == "malformed" or roll_malformed:
            return Response('{"order": 12, "status": "Pend', status_code=200, media_type="application/json")
        return JSONResponse(answer)

    async def knobs(request: Request) -> Response:
        if request.method == "POST":
            try:
                state.set_knobs(**(await request.json()))
            except (ValueError, TypeError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(asdict(state.knobs))

    async def orders(_request: Request) -> Response:
        with state.lock:
            rows = [
                {
                    "order": o.id,
                    "service": o.service,
                    "link": o.link,
                    "quantity": o.quantity,
                    "ref": o.ref,
                    "status": o.final if o.final_reached else "running",
                    "delivered": o.quantity - o.remains_final if o.final_reached else 0,
                    "category": next((s["category"] for s in state.services if s["service"] == o.service), ""),
                }
                for o in state.orders.values()
            ]
        return JSONResponse(rows)

    return Starlette(
        routes=[
            Route("/api/v2", api, methods=["POST"]),
            Route("/sandbox/knobs", knobs, methods=["GET", "POST"]),
            Route("/sandbox/orders", orders, methods=["GET"]),
        ]
    )


# --- running it ----------------------------------------------------------------------


class HttpSandboxServer:
    """A Starlette app served by uvicorn in a daemon thread on loopback (port 0: a free one)."""

    def __init__(self, app: Starlette, host: str, port: int, label: str) -> None:
        self.host, self._port, self.label = host, port, label
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))  # raises OSError when the port is taken: reported by the runner
        self._sock = sock
        self._server = uvicorn.Server(
            uvicorn.Config(app, log_level="warning", access_log=False, timeout_keep_alive=30, backlog=2048)
        )
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._sock.getsockname()[1]

    def start(self) -> HttpSandboxServer:
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, name=self.label, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"{self.label} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._sock.close()


class PanelSandbox:
    """The SMM panel sandbox: `with PanelSandbox(port=0) as panel: panel.base_url ...`."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 8091, api_key: str = DEFAULT_API_KEY, knobs: PanelKnobs | None = None
    ) -> None:
        self.state = PanelState(api_key, knobs)
        self._server = HttpSandboxServer(build_app(self.state), host, port, "panel-sandbox")

    @property
    def base_url(self) -> str:
        return f"http://{self._server.host}:{self._server.port}/api/v2"

    @property
    def description(self) -> str:
        return f"SMM panel sandbox (panel API v2) at {self.base_url}"

    def start(self) -> PanelSandbox:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> PanelSandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
