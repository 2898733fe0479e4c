"""Local SMM panel speaking panel API v2 over real HTTP, with knobs for every way panels misbehave.

`/api/v2` (and `/api/v2/`, never redirected) with `key` and `action` (services, add, status,
refill, refill_status, cancel, balance) as GET query parameters, a form POST or a JSON body,
answering like real panels: `{"error": ...}` with HTTP 200, per-id errors in batch answers
(`orders=` for status, refill and cancel; `refills=` for refill_status; at most 100 ids), a
JSON error for any malformed request (never a 500). Order types: Default (drip-feed `runs` x
`interval` charged per run, refused on services without drip-feed), Custom Comments and
Mentions Custom List (one line per unit), Package, Mentions variants, Poll, Comment Likes and
Subscriptions (`username`, `min`, `max`, `posts`, `delay`, `expiry`); the services of the
other types are listed with the `extra_types` knob. `/d/<speech>/api/v2` speaks one of the
preset families of `SPEECHES` (perfect, strict, legacy, ...) whatever the knobs say. Knobs (`PanelKnobs`, settable
in-process or with `POST /sandbox/knobs` as JSON):

- latency_ms, error_rate (HTTP 500 before doing anything), malformed_rate (HTTP 200 with a
  broken body, after doing the work), random seed (deterministic runs);
- dialect: the speech of `/api/v2`: "standard" (Title Case words, integers) or "messy" (lower
  case, `Cancelled`, every number a string, `"remains": "Unknown"` while running), or any
  other name of `SPEECHES`; force_status / force_remains: answer that word / remains for
  every order (words outside a vocabulary, negative remains);
- polls_to_complete: how many status polls an order takes to finish;
- partial_rate / partial_links and partial_ratio: orders that end Partial with that share
  remaining; cancel_links: orders that end Canceled; `cancel` (services with `cancel: true`,
  unfinished orders) ends an order Canceled, or Partial when cancel_delivered_ratio of it
  was delivered first;
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
import json
import random
import re
import socket
import threading
import time
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any, Self

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
    # a canceled order delivered this share first: it ends Partial instead of Canceled
    cancel_delivered_ratio: float = 0.0
    refuse_active_link: bool = False
    lookup_by_ref: bool = True
    balance: str = "1000000.00"
    currency: str = "EUR"
    removed_services: list[str] = field(default_factory=list)
    refill_reject: bool = False
    hang_seconds: float = 30.0
    seed: int = 7
    extra_types: bool = False  # also list one service of every other order type (seed.SANDBOX_TYPED_SERVICES)
    force_status: str = ""  # answer this status word for every order (words outside a vocabulary)
    force_remains: str | None = None  # answer this remains for every order ("Unknown", "-20")
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


def _extra_services() -> list[dict[str, Any]]:
    """The services of the other order types (listed when the `extra_types` knob is on; the
    demo seed routes products to them, and `smplat run` turns the knob on)."""
    from smplat.services.seed import SANDBOX_TYPED_SERVICES

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
        for ext_id, name, type_, category, rate, min_q, max_q, refill, _days, cancel, dripfeed in SANDBOX_TYPED_SERVICES
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
    kind: str = "Default"
    runs: int | None = None
    interval: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


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
        self.requests: list[dict[str, Any]] = []  # method, path, transport, speech, parameter names
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
            self.requests.clear()
            self.next_id, self.next_refill = 1000, 500
            self.rng = random.Random(self.knobs.seed)

    def catalog(self) -> list[dict[str, Any]]:
        return self.services + (_extra_services() if self.knobs.extra_types else [])

    def orders_by_link(self) -> dict[str, list[int]]:
        with self.lock:
            result: dict[str, list[int]] = {}
            for order in self.orders.values():
                result.setdefault(order.link, []).append(order.id)
            return result


# --- protocol ------------------------------------------------------------------------


@dataclass(frozen=True)
class Speech:
    """How one family of panels words its answers (what a provider's dialect must understand)."""

    key_param: str = "key"
    strings: bool = False  # every number (ids too) sent as a string
    lower: bool = False  # status words in lower case
    words: dict[str, str] = field(default_factory=dict)  # our word -> the panel's (missing: the same)
    unknown_remains: bool = False  # "remains": "Unknown" while an order runs
    envelope: bool = False  # {"status": "success", "order": 151} / {"status": "error", "error": ...}
    http_errors: bool = False  # refusals as real 4xx (401, 402, 404, 422) instead of HTTP 200


# The families the sandbox can speak: `/api/v2` speaks the `dialect` knob, `/d/<name>/api/v2`
# (with or without a trailing slash) speaks <name>.
SPEECHES: dict[str, Speech] = {
    "standard": Speech(),
    "messy": Speech(strings=True, lower=True, words={"Canceled": "Cancelled"}, unknown_remains=True),
    "perfect": Speech(strings=True),
    "strict": Speech(
        key_param="api_token",
        words={"In progress": "Processing", "Canceled": "Cancelled"},
        envelope=True,
        http_errors=True,
    ),
    "legacy": Speech(
        key_param="api",
        strings=True,
        words={
            "Pending": "Awaiting",
            "In progress": "Running",
            "Completed": "Done",
            "Partial": "Partially done",
            "Canceled": "Cancelled",
            "Rejected": "rejected",
        },
        unknown_remains=True,
    ),
}

MAX_IDS = 100
_DIGITS = re.compile(r"[0-9]{1,18}")  # ASCII digits only: `²` and other Unicode digits are refused
_TYPE_QUANTITY_FROM = {"Custom Comments": "comments", "Mentions Custom List": "usernames"}
_TYPE_REQUIRED = {
    "Mentions with Hashtags": ("usernames", "hashtags"),
    "Mentions User Followers": ("username",),
    "Mentions Hashtag": ("hashtag",),
    "Mentions Media Likers": ("media",),
    "Poll": ("answer_number",),
    "Comment Likes": ("username",),
}


class _Refused(Exception):
    def __init__(self, message: str, code: int = 422) -> None:
        super().__init__(message)
        self.message, self.code = message, code


def _err(message: str, code: int = 422) -> dict[str, Any]:
    return {"error": message, "_code": code}


def _parse_id(raw: Any) -> int | None:
    text = str(raw or "").strip()
    return int(text) if _DIGITS.fullmatch(text) else None


def _positive(form: dict[str, str], name: str, *, maximum: int = 10**9, required: bool = True) -> int | None:
    raw = (form.get(name) or "").strip()
    if not raw:
        if required:
            raise _Refused(f"Incorrect {name}")
        return None
    value = _parse_id(raw)
    if value is None or value < 1 or value > maximum:
        raise _Refused(f"Incorrect {name}")
    return value


def _id_list(text: str) -> list[str]:
    ids = [part.strip() for part in text.split(",") if part.strip()]
    if len(ids) > MAX_IDS:
        raise _Refused(f"Too many ids: at most {MAX_IDS} per request")
    return ids


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace("\r", "\n").split("\n") if line.strip()]


def _num(speech: Speech, value: Any) -> Any:
    return str(value) if speech.strings else value


def _word(speech: Speech, word: str) -> str:
    word = speech.words.get(word, word)
    return word.lower() if speech.lower else word


def _order_status(state: PanelState, speech: Speech, order: SandboxOrder, *, poll: bool) -> dict[str, Any]:
    knobs = state.knobs
    if poll and not order.final_reached:
        order.polls += 1
        if order.polls >= knobs.polls_to_complete:
            order.final_reached = True
    if order.final_reached:
        word, remains = order.final, order.remains_final
    elif order.kind == "Subscriptions":
        word, remains = "Active", order.quantity
    else:
        word, remains = ("Pending" if order.polls == 0 else "In progress"), order.quantity
    remains_out: Any = _num(speech, remains)
    if speech.unknown_remains and not order.final_reached:
        remains_out = "Unknown"
    delivered_share = Decimal(order.quantity - remains) / Decimal(order.quantity) if order.quantity else Decimal(0)
    charge = (order.charge * delivered_share).quantize(Decimal("0.0001")) if order.final_reached else order.charge
    word_out = _word(speech, word)
    if knobs.force_status:
        word_out = knobs.force_status
    if knobs.force_remains is not None:
        remains_out = knobs.force_remains
    answer: dict[str, Any] = {
        "charge": str(charge),
        "start_count": _num(speech, order.start_count),
        "status": word_out,
        "remains": remains_out,
        "currency": knobs.currency,
    }
    if order.kind == "Subscriptions":
        posts_done = order.extra.get("posts", 0) if order.final_reached else 0
        answer.update({"posts": _num(speech, posts_done), "expiry": order.extra.get("expiry") or None})
    if order.runs:
        answer.update({"runs": _num(speech, order.runs), "interval": _num(speech, order.interval)})
    return answer


def _find_service(state: PanelState, ext_id: str | None) -> dict[str, Any] | None:
    removed = state.knobs.removed_services
    return next((s for s in state.catalog() if s["service"] == ext_id and s["service"] not in removed), None)


def _add(state: PanelState, speech: Speech, form: dict[str, str]) -> dict[str, Any]:
    knobs = state.knobs
    service = _find_service(state, (form.get("service") or "").strip())
    if service is None:
        raise _Refused("Incorrect service ID", 404)
    kind = service["type"]
    low, high = int(service["min"]), int(service["max"])
    runs = interval = None
    extra: dict[str, Any] = {}
    if kind == "Subscriptions":
        username = (form.get("username") or "").strip()
        if not username:
            raise _Refused("Incorrect username")
        min_q, max_q = _positive(form, "min"), _positive(form, "max")
        if min_q > max_q or min_q < low or max_q > high:  # type: ignore[operator]
            raise _Refused(f"Min and max must be between {low} and {high}, min not above max")
        posts = _positive(form, "posts", maximum=10000, required=False) or 0
        delay = (form.get("delay") or "0").strip()
        if delay not in {"0", "5", "10", "15", "30", "60", "90"}:
            raise _Refused("Incorrect delay")
        expiry = (form.get("expiry") or "").strip()
        if expiry and not re.fullmatch(r"[0-9]{2}/[0-9]{2}/[0-9]{4}", expiry):
            raise _Refused("Incorrect expiry date (dd/mm/yyyy)")
        link, quantity = username, max_q  # type: ignore[assignment]
        extra = {"min": min_q, "max": max_q, "posts": posts, "delay": int(delay), "expiry": expiry}
        charge = (Decimal(service["rate"]) * max_q * max(posts, 1) / 1000).quantize(Decimal("0.0001"))  # type: ignore[operator]
    else:
        link = (form.get("link") or "").strip()
        if not link:
            raise _Refused("Incorrect link")
        if kind == "Package":
            quantity = 1
            charge = Decimal(service["rate"]).quantize(Decimal("0.0001"))
        else:
            if kind in _TYPE_QUANTITY_FROM:
                name = _TYPE_QUANTITY_FROM[kind]
                lines = _lines(form.get(name) or "")
                if not lines:
                    raise _Refused(f"Incorrect {name}")
                quantity = len(lines)  # one line per unit: the quantity parameter is not needed
                extra[name] = lines
            else:
                quantity = _positive(form, "quantity")  # type: ignore[assignment]
            for name in _TYPE_REQUIRED.get(kind, ()):
                value = (form.get(name) or "").strip()
                if not value:
                    raise _Refused(f"Incorrect {name}")
                extra[name] = value
            if quantity < low or quantity > high:
                raise _Refused(f"Quantity must be between {low} and {high}")
            runs = _positive(form, "runs", maximum=1000, required=False)
            interval = _positive(form, "interval", maximum=10000, required=False)
            if runs is not None or interval is not None:
                if not _as_flag(service["dripfeed"]):
                    raise _Refused("Drip-feed is not available for this service")
                if runs is None or interval is None:
                    raise _Refused("Drip-feed needs both runs and interval")
            charge = (Decimal(service["rate"]) * quantity * (runs or 1) / 1000).quantize(Decimal("0.0001"))
            quantity *= runs or 1
    ref = (form.get("ref") or None) if knobs.lookup_by_ref else None
    if ref and ref in state.by_ref:
        return {"order": _num(speech, state.by_ref[ref])}  # the same submission key answers the same order
    if knobs.refuse_active_link and any(o.link == link and not o.final_reached for o in state.orders.values()):
        raise _Refused("You have active order with this link. Please wait until order being completed.")
    balance = Decimal(knobs.balance)
    if charge > balance:
        raise _Refused("Not enough funds on balance", 402)
    knobs.balance = str(balance - charge)
    order = SandboxOrder(
        id=state.next_id,
        service=service["service"],
        link=link,
        quantity=quantity,
        charge=charge,
        ref=ref,
        start_count=state.rng.randint(100, 5000),
        kind=kind,
        runs=runs,
        interval=interval,
        extra=extra,
    )
    state.next_id += 1
    if link in knobs.cancel_links:
        order.final, order.remains_final = "Canceled", quantity
    elif link in knobs.partial_links or (knobs.partial_rate and state.rng.random() < knobs.partial_rate):
        order.final, order.remains_final = "Partial", max(1, int(quantity * knobs.partial_ratio))
    state.orders[order.id] = order
    if ref:
        state.by_ref[ref] = order.id
    return {"order": _num(speech, order.id)}


def _refill_one(state: PanelState, raw: str) -> int:
    order = state.orders.get(_parse_id(raw) or -1)
    if order is None:
        raise _Refused("Incorrect order ID", 404)
    service = next(s for s in state.catalog() if s["service"] == order.service)
    if not _as_flag(service["refill"]):
        raise _Refused("Refill is not available for this order")
    refill_id = state.next_refill
    state.next_refill += 1
    state.refills[refill_id] = {"order": order.id, "polls": 0}
    return refill_id


def _cancel_one(state: PanelState, raw: str) -> None:
    """Cancel by the convention: only a service that says `cancel: true`, only an unfinished
    order. The order ends Canceled (Partial when `cancel_delivered_ratio` of it was
    delivered first) and says so on the next status."""
    order = state.orders.get(_parse_id(raw) or -1)
    if order is None:
        raise _Refused("Incorrect order ID", 404)
    service = next(s for s in state.catalog() if s["service"] == order.service)
    if not _as_flag(service["cancel"]):
        raise _Refused("Cancel is not available for this order")
    if order.final_reached:
        raise _Refused("Order is already finished")
    delivered = int(order.quantity * max(0.0, min(1.0, state.knobs.cancel_delivered_ratio)))
    if 0 < delivered < order.quantity:
        order.final, order.remains_final = "Partial", order.quantity - delivered
    else:
        order.final, order.remains_final = "Canceled", order.quantity
    order.final_reached = True


def _refill_status_one(state: PanelState, speech: Speech, raw: str) -> str:
    refill = state.refills.get(_parse_id(raw) or -1)
    if refill is None:
        raise _Refused("Incorrect refill ID", 404)
    refill["polls"] += 1
    if state.knobs.refill_reject:
        return _word(speech, "Rejected")
    done = refill["polls"] >= state.knobs.polls_to_complete
    return _word(speech, "Completed" if done else "In progress")


def _handle(state: PanelState, speech: Speech, form: dict[str, str]) -> Any:
    try:
        return _answer(state, speech, form)
    except _Refused as refused:
        return _err(refused.message, refused.code)


def _answer(state: PanelState, speech: Speech, form: dict[str, str]) -> Any:
    action = form.get("action", "")
    if not form.get(speech.key_param) or form.get(speech.key_param) != state.api_key:
        raise _Refused("Invalid API key", 401)
    knobs = state.knobs
    if action == "services":
        return [
            {
                **s,
                "rate": str(s["rate"]),
                "min": _num(speech, int(s["min"])),
                "max": _num(speech, int(s["max"])),
            }
            for s in state.catalog()
            if s["service"] not in knobs.removed_services
        ]
    if action == "balance":
        return {"balance": knobs.balance, "currency": knobs.currency}
    if action == "add":
        answer = _add(state, speech, form)
        return {"status": "success", **answer} if speech.envelope else answer
    if action == "status":
        if form.get("ref") and knobs.lookup_by_ref:
            found = state.by_ref.get(form["ref"])
            if found is None:
                raise _Refused("Order not found", 404)
            return {"order": _num(speech, found)}
        if form.get("orders"):
            answer: dict[str, Any] = {}
            for raw in _id_list(form["orders"]):
                order = state.orders.get(_parse_id(raw) or -1)
                answer[raw] = (
                    _order_status(state, speech, order, poll=True) if order else {"error": "Incorrect order ID"}
                )
            return answer
        order = state.orders.get(_parse_id(form.get("order")) or -1)
        if order is None:
            raise _Refused("Incorrect order ID", 404)
        return _order_status(state, speech, order, poll=True)
    if action == "refill":
        if form.get("orders"):
            result: list[dict[str, Any]] = []
            for raw in _id_list(form["orders"]):
                try:
                    refill_id = _refill_one(state, raw)
                    result.append({"order": _num(speech, int(raw)), "refill": _num(speech, refill_id)})
                except _Refused as refused:
                    result.append({"order": raw, "refill": {"error": refused.message}})
            return result
        refill_id = _refill_one(state, form.get("order") or "")
        answer = {"refill": _num(speech, refill_id)}
        return {"status": "success", **answer} if speech.envelope else answer
    if action == "refill_status":
        if form.get("refills"):
            result = []
            for raw in _id_list(form["refills"]):
                try:
                    word = _refill_status_one(state, speech, raw)
                    result.append({"refill": _num(speech, int(raw)), "status": word})
                except _Refused as refused:
                    result.append({"refill": raw, "status": {"error": refused.message}})
            return result
        return {"status": _refill_status_one(state, speech, form.get("refill") or "")}
    if action == "cancel":
        result = []
        for raw in _id_list(form.get("orders") or form.get("order") or ""):
            try:
                _cancel_one(state, raw)
                result.append({"order": _num(speech, int(raw)), "cancel": 1})
            except _Refused as refused:
                result.append({"order": raw, "cancel": {"error": refused.message}})
        return result
    raise _Refused("Incorrect request")


def _as_flag(value: Any) -> bool:
    return value is True or str(value).strip().lower() in {"1", "true", "yes"}


async def _read_params(request: Request) -> tuple[dict[str, str], str]:
    """Query string, then form or JSON body (the body wins); and which transport carried it."""
    params = {k: str(v) for k, v in request.query_params.items()}
    transport = "query"
    if request.method == "POST":
        ctype = request.headers.get("content-type", "").lower()
        if "json" in ctype:
            body = json.loads((await request.body()) or b"{}")
            if not isinstance(body, dict):
                raise _Refused("Incorrect request")
            for k, v in body.items():
                params[str(k)] = "\n".join(map(str, v)) if isinstance(v, list) else str(v)
            transport = "json"
        elif "form" in ctype:
            form = await request.form()
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
            transport = "form"
    return params, transport


def build_app(state: PanelState) -> Starlette:
    async def api(request: Request) -> Response:
        name = request.path_params.get("speech") or state.knobs.dialect
        speech = SPEECHES.get(name)
        try:
            form, transport = await _read_params(request)
        except (_Refused, ValueError, UnicodeDecodeError, KeyError, AssertionError):
            form, transport = {}, "broken"
        action = form.get("action", "")
        with state.lock:
            state.calls.append(action)
            state.requests.append(
                {
                    "method": request.method,
                    "path": request.url.path,
                    "transport": transport,
                    "speech": name,
                    "params": sorted(form),
                }
            )
            queue = state.knobs.script.get(action) or []
            fault = queue.pop(0) if queue else None
            latency = state.knobs.latency_ms / 1000
            roll_error = state.rng.random() < state.knobs.error_rate if state.knobs.error_rate else False
            roll_malformed = state.rng.random() < state.knobs.malformed_rate if state.knobs.malformed_rate else False
            hang = state.knobs.hang_seconds
        if speech is None:
            return JSONResponse({"error": f"Unknown dialect: {name[:40]}"}, status_code=404)
        if transport == "broken":
            return _refusal(speech, "Incorrect request", 400)
        if latency:
            await asyncio.sleep(latency)
        if fault == "http500" or roll_error:
            return Response("<html>502 Bad Gateway</html>", status_code=502, media_type="text/html")
        if fault == "http429":
            return JSONResponse({"error": "Too many requests"}, status_code=429, headers={"Retry-After": "1"})
        if fault == "hang":
            await asyncio.sleep(hang)
            return JSONResponse({"error": "too late"})
        if fault and fault.startswith("error:"):
            return _refusal(speech, fault[len("error:") :], 422)
        with state.lock:
            try:
                answer = _handle(state, speech, form)
            except Exception:  # a panel never answers a bad request with a 500
                answer = _err("Incorrect request", 400)
        if fault == "hang_after_create":
            await asyncio.sleep(hang)
        if fault == "malformed" or roll_malformed:
            return Response('{"order": 12, "status": "Pend', status_code=200, media_type="application/json")
        if isinstance(answer, dict) and "_code" in answer:
            return _refusal(speech, answer["error"], answer["_code"])
        return JSONResponse(answer)

    def _refusal(speech: Speech, message: str, code: int) -> Response:
        if speech.http_errors:
            return JSONResponse({"status": "error", "error": message}, status_code=code)
        return JSONResponse({"error": message})

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
                    "charge": str(o.charge),
                    "runs": o.runs,
                    "interval": o.interval,
                    "type": o.kind,
                    "ref": o.ref,
                    "status": o.final if o.final_reached else "running",
                    "delivered": o.quantity - o.remains_final if o.final_reached else 0,
                    "category": next((s["category"] for s in state.services if s["service"] == o.service), ""),
                }
                for o in state.orders.values()
            ]
        return JSONResponse(rows)

    methods = ["GET", "POST"]
    return Starlette(
        routes=[
            Route("/api/v2", api, methods=methods),
            Route("/api/v2/", api, methods=methods),
            Route("/d/{speech}/api/v2", api, methods=methods),
            Route("/d/{speech}/api/v2/", api, methods=methods),
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


class ServedSandbox:
    """Start/stop and `with` for a sandbox served by an `HttpSandboxServer` (`self._server`)."""

    _server: HttpSandboxServer

    def start(self) -> Self:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class PanelSandbox(ServedSandbox):
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
