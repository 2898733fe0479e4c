"""A Stripe-compatible sandbox on loopback, so the official stripe SDK and the real webhook
signature check run end to end with no internet.

It speaks Stripe's wire format for what the shop uses: form-encoded requests with nested
`a[b][0][c]` keys, JSON answers, `Authorization: Bearer <secret key>`, and
`Stripe-Signature: t=<ts>,v1=<hex HMAC-SHA256("<ts>.<payload>", endpoint secret)>` on every
webhook. Routes:

- `POST /v1/checkout/sessions`, `GET /v1/checkout/sessions/{id}`, `POST /v1/checkout/sessions/{id}/expire`
- `POST /v1/refunds` (payment_intent, optional amount) -> emits `charge.refunded`; an
  `Idempotency-Key` header replays the first answer (`Idempotent-Replayed: true`) as Stripe does
- `DELETE /v1/subscriptions/{id}` -> emits `customer.subscription.deleted`
- `POST /v1/products`, `POST /v1/prices` (currency, unit_amount, optional recurring[interval]
  and recurring[interval_count], product or product_data[name], metadata), `GET /v1/prices/{id}`,
  `POST /v1/prices/{id}` (only `active` and `metadata` change: prices are immutable)
- `GET /v1/subscriptions/{id}`; `POST /v1/subscriptions/{id}` (cancel_at_period_end, metadata)
  -> emits `customer.subscription.updated`; a canceled subscription cannot be updated (400)
- the hosted pay page `GET /pay/{id}` with "Pay" (`POST /pay/{id}/pay`) and "Decline"
  (`POST /pay/{id}/decline`) paths
- sandbox controls (not Stripe API, like Stripe's test clocks): `POST /sandbox/subscriptions/{id}/renew`
  -> the period advances and `invoice.paid` (billing_reason subscription_cycle), or, for a
  subscription that was set to cancel at period end, `customer.subscription.deleted`;
  `POST /sandbox/subscriptions/{id}/fail_renewal` -> `invoice.payment_failed` and the
  subscription becomes `past_due` (`customer.subscription.updated`),
  `POST /sandbox/subscriptions/{id}/update` (cancel_at_period_end) -> `customer.subscription.updated`,
  `GET /sandbox/events` -> every event sent, for tests.

State lives in memory (a restart forgets sessions, like a fresh Stripe test account).
Webhooks are posted from a background thread with three attempts, like Stripe's retries.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import logging
import re
import secrets
import socket
import threading
import time
from typing import Any
from urllib.parse import parse_qsl

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

logger = logging.getLogger("smplat.sandbox.stripe")

API_VERSION = "2025-01-27.acacia"


def sign_payload(payload: str, secret: str, timestamp: int | None = None) -> str:
    """The `Stripe-Signature` header value exactly as Stripe computes it."""
    ts = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{ts}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={ts},v1={digest}"


def decode_form(body: str) -> dict[str, Any]:
    """Stripe's form encoding (`line_items[0][price_data][currency]=eur`) to nested data."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = re.findall(r"[^\[\]]+", key)
        node: Any = root
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, {})
    return _listify(root)


def _listify(node: Any) -> Any:
    if isinstance(node, dict):
        converted = {k: _listify(v) for k, v in node.items()}
        if converted and all(k.isdigit() for k in converted):
            return [converted[k] for k in sorted(converted, key=int)]
        return converted
    return node


def _id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


class StripeSandbox:
    def __init__(self, host: str, port: int, *, secret_key: str, webhook_url: str, webhook_secret: str) -> None:
        self.host = host
        self.port = port
        self.secret_key = secret_key
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret
        self.sessions: dict[str, dict[str, Any]] = {}
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.charges: dict[str, dict[str, Any]] = {}  # by payment intent id
        self.events: list[dict[str, Any]] = []
        self.refund_requests: list[dict[str, Any]] = []  # every POST /v1/refunds answered, replays included
        self.products: dict[str, dict[str, Any]] = {}
        self.prices: dict[str, dict[str, Any]] = {}
        self._idempotent: dict[str, tuple[str, int, dict[str, Any]]] = {}  # Idempotency-Key -> (body, status, answer)
        self._lock = threading.RLock()  # re-entered: a refund emits its event under the lock
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.app = Starlette(
            routes=[
                Route("/v1/checkout/sessions", self._create_session, methods=["POST"]),
                Route("/v1/checkout/sessions/{sid}", self._retrieve_session, methods=["GET"]),
                Route("/v1/checkout/sessions/{sid}/expire", self._expire_session, methods=["POST"]),
                Route("/v1/refunds", self._create_refund, methods=["POST"]),
                Route("/v1/subscriptions/{sub}", self._cancel_subscription, methods=["DELETE"]),
                Route("/v1/products", self._create_product, methods=["POST"]),
                Route("/v1/prices", self._create_price, methods=["POST"]),
                Route("/v1/prices/{pid}", self._retrieve_price, methods=["GET"]),
                Route("/v1/prices/{pid}", self._update_price, methods=["POST"]),
                Route("/v1/subscriptions/{sub}", self._retrieve_subscription, methods=["GET"]),
                Route("/v1/subscriptions/{sub}", self._post_subscription, methods=["POST"]),
                Route("/pay/{sid}", self._pay_page, methods=["GET"]),
                Route("/pay/{sid}/pay", self._pay, methods=["POST"]),
                Route("/pay/{sid}/decline", self._decline, methods=["POST"]),
                Route("/sandbox/subscriptions/{sub}/renew", self._renew, methods=["POST"]),
                Route("/sandbox/subscriptions/{sub}/fail_renewal", self._fail_renewal, methods=["POST"]),
                Route("/sandbox/subscriptions/{sub}/update", self._update_subscription, methods=["POST"]),
                Route("/sandbox/events", self._list_events, methods=["GET"]),
            ]
        )

    # --- lifecycle ------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def description(self) -> str:
        return f"Stripe sandbox on {self.base_url} (webhooks to {self.webhook_url})"

    def start(self) -> StripeSandbox:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True, name="stripe-sandbox"
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        if not self._server.started:
            raise RuntimeError(f"could not listen on {self.base_url}")
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)

    # --- helpers --------------------------------------------------------------------

    def _authorised(self, request: Request) -> bool:
        return request.headers.get("authorization", "") == f"Bearer {self.secret_key}"

    @staticmethod
    def _error(
        status: int, message: str, code: str = "resource_missing", kind: str = "invalid_request_error"
    ) -> JSONResponse:
        return JSONResponse({"error": {"type": kind, "code": code, "message": message}}, status_code=status)

    def emit(self, event_type: str, obj: dict[str, Any], *, deliver: bool = True) -> dict[str, Any]:
        event = {
            "id": _id("evt"),
            "object": "event",
            "api_version": API_VERSION,
            "created": int(time.time()),
            "type": event_type,
            "livemode": False,
            "pending_webhooks": 1,
            "data": {"object": obj},
        }
        with self._lock:
            self.events.append(event)
        if deliver:
            threading.Thread(target=self._deliver, args=(event,), daemon=True).start()
        return event

    def _deliver(self, event: dict[str, Any]) -> None:
        payload = json.dumps(event)
        for attempt, pause in enumerate((0, 1, 3)):
            time.sleep(pause)
            headers = {
                "Content-Type": "application/json",
                "Stripe-Signature": sign_payload(payload, self.webhook_secret),
            }
            try:
                answer = httpx.post(self.webhook_url, content=payload, headers=headers, timeout=10)
                if answer.status_code < 300:
                    return
                logger.warning("webhook %s attempt %d answered %s", event["type"], attempt + 1, answer.status_code)
            except httpx.HTTPError as exc:
                logger.warning("webhook %s attempt %d failed: %s", event["type"], attempt + 1, exc)

    # --- API --------------------------------------------------------------------------

    async def _create_session(self, request: Request) -> Response:
        if not self._authorised(request):
            return self._error(401, "Invalid API Key provided", "api_key_invalid", "authentication_error")
        params = decode_form((await request.body()).decode())
        items = params.get("line_items") or []
        if not items:
            return self._error(400, "line_items is required", "parameter_missing")
        mode = params.get("mode", "payment")
        lines, total = [], 0
        for item in items:
            data = item.get("price_data") or {}
            try:
                unit, quantity = int(data["unit_amount"]), int(item.get("quantity", 1))
            except (KeyError, ValueError):
                return self._error(
                    400, "line_items[][price_data][unit_amount] must be an integer", "parameter_invalid_integer"
                )
            if unit < 0 or quantity < 1:
                return self._error(400, "amounts must be positive", "parameter_invalid_integer")
            if data.get("recurring") and mode != "subscription":
                return self._error(400, "recurring prices need mode=subscription", "parameter_invalid")
            name = (data.get("product_data") or {}).get("name", "Item")
            lines.append(
                {
                    "name": name,
                    "unit_amount": unit,
                    "quantity": quantity,
                    "currency": data.get("currency", "eur"),
                    "recurring": data.get("recurring"),
                }
            )
            total += unit * quantity
        sid = f"cs_test_{secrets.token_hex(16)}"
        now = int(time.time())
        session = {
            "id": sid,
            "object": "checkout.session",
            "livemode": False,
            "mode": mode,
            "status": "open",
            "payment_status": "unpaid",
            "amount_total": total,
            "amount_subtotal": total,
            "currency": lines[0]["currency"],
            "customer_email": params.get("customer_email"),
            "customer_details": None,
            "client_reference_id": params.get("client_reference_id"),
            "metadata": params.get("metadata") or {},
            "success_url": params.get("success_url"),
            "cancel_url": params.get("cancel_url"),
            "created": now,
            "expires_at": int(params.get("expires_at") or now + 24 * 3600),
            "payment_intent": None,
            "subscription": None,
            "customer": None,
            "url": f"{self.base_url}/pay/{sid}",
            "subscription_metadata": ((params.get("subscription_data") or {}).get("metadata") or {}),
        }
        with self._lock:
            self.sessions[sid] = {"session": session, "lines": lines}
        return JSONResponse(self._public(session))

    # --- products and prices -----------------------------------------------------------

    def _new_product(self, name: str, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
        product = {
            "id": _id("prod"),
            "object": "product",
            "active": True,
            "name": name,
            "metadata": metadata or {},
            "created": int(time.time()),
            "livemode": False,
        }
        with self._lock:
            self.products[product["id"]] = product
        return product

    async def _create_product(self, request: Request) -> Response:
        if not self._authorised(request):
            return self._error(401, "Invalid API Key provided", "api_key_invalid", "authentication_error")
        params = decode_form((await request.body()).decode())
        if not params.get("name"):
            return self._error(400, "Missing required param: name.", "parameter_missing")
        return JSONResponse(self._new_product(str(params["name"]), params.get("metadata")))

    async def _create_price(self, request: Request) -> Response:
        if not self._authorised(request):
            return self._error(401, "Invalid API Key provided", "api_key_invalid", "authentication_error")
        params = decode_form((await request.body()).decode())
        currency = str(params.get("currency") or "").lower()
        if not re.match(r"^[a-z]{3}$", currency):
            return self._error(400, "Missing required param: currency.", "parameter_missing")
        try:
            unit = int(params.get("unit_amount", ""))
        except ValueError:
            return self._error(400, "Invalid integer: unit_amount", "parameter_invalid_integer")
        if unit < 0:
            return self._error(400, "unit_amount must be positive", "parameter_invalid_integer")
        recurring = params.get("recurring")
        if recurring is not None:
            interval = recurring.get("interval")
            try:
                count = int(recurring.get("interval_count", 1))
            except ValueError:
                return self._error(400, "Invalid integer: recurring[interval_count]", "parameter_invalid_integer")
            limits = {"day": 365, "week": 52, "month": 12, "year": 1}
            if interval not in limits:
                return self._error(400, "Invalid recurring[interval]", "parameter_invalid")
            if not 1 <= count <= limits[interval]:
                return self._error(400, "Intervals may be at most one year", "parameter_invalid")
            recurring = {"interval": interval, "interval_count": count, "usage_type": "licensed"}
        if params.get("product"):
            product_id = str(params["product"])
            if product_id not in self.products:
                return self._error(404, f"No such product: '{product_id}'")
        elif (params.get("product_data") or {}).get("name"):
            product_id = self._new_product(str(params["product_data"]["name"]))["id"]
        else:
            return self._error(400, "Missing required param: product.", "parameter_missing")
        price = {
            "id": _id("price"),
            "object": "price",
            "active": True,
            "currency": currency,
            "unit_amount": unit,
            "product": product_id,
            "recurring": recurring,
            "type": "recurring" if recurring else "one_time",
            "metadata": params.get("metadata") or {},
            "created": int(time.time()),
            "livemode": False,
        }
        with self._lock:
            self.prices[price["id"]] = price
        return JSONResponse(price)

    async def _retrieve_price(self, request: Request) -> Response:
        if not self._authorised(request):
            return self._error(401, "Invalid API Key provided", "api_key_invalid", "authentication_error")
        price = self.prices.get(request.path_params["pid"])
        if price is None:
            return self._error(404, f"No such price: '{request.path_params['pid']}'")
        return JSONResponse(price)

    async def _update_price(self, request: Request) -> Response:
        if not self._authorised(request):
            return self._error(401, "Invalid API Key provided", "api_key_invalid", "authentication_error")
        params = decode_form((await request.body()).decode())
        with self._lock:
            price = self.prices.get(request.path_params["pid"])
            if price is None:
                return self._error(404, f"No such price: '{request.path_params['pid']}'")
            changed = set(params) - {"active", "metadata"}
            if changed:
                return self._error(
                    400, f"Received unknown parameter: {sorted(changed)[0]} (prices are immutable)", "parameter_unknown"
                )
            if "active" in params:
                price["active"] = str(params["active"]).lower() == "true"
            if "metadata" in params:
                price["metadata"] = {**price["metadata"], **(params["metadata"] or {})}
            return JSONResponse(price)

    @staticmethod
    def _public(session: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in session.items() if k != "subscription_metadata"}

    def _find(self, sid: str) -> dict[str, Any] | None:
        with self._lock:
            return self.sessions.get(sid)

    async def _retrieve_session(self, request: Request) -> Response:
        if not self._authorised(request):
            return self._error(401, "Invalid API Key provided", "api_key_invalid", "authentication_error")
        found = self._find(request.path_params["sid"])
        if found is None:
            return self._error(404, f"No such checkout.session: '{request.path_params['sid']}'")
        return JSONResponse(self._public(found["session"]))

    async def _expire_session(self, request: Request) -> Response:
        if not self._authorised(request):
            return self._error(401, "Invalid API Key provided", "api_key_invalid", "authentication_error")
        found = self._find(request.path_params["sid"])
        if found is None:
            return self._error(404, f"No such checkout.session: '{request.path_params['sid']}'")
        session = found["session"]
        if session["status"] != "open":
            return self._error(
                400,
                f'Only Checkout Sessions with a status in ["open"] can be expired. '
                f'This Checkout Session has a status of "{session["status"]}".',
                "checkout_session_not_open",
            )
        session["status"] = "expired"
        self.emit("checkout.session.expired", self._public(session))
        return JSONResponse(self._public(session))

    async def _create_refund(self, request: Request) -> Response:
        if not self._authorised(request):
            return self._error(401, "Invalid API Key provided", "api_key_invalid", "authentication_error")
        body = (await request.body()).decode()
        key = request.headers.get("idempotency-key")
        with self._lock:
            if key and key in self._idempotent:
                first_body, status, answer = self._idempotent[key]
                if first_body != body:
                    return self._error(
                        400,
                        "Keys for idempotent requests can only be used with the same parameters "
                        "they were first used with.",
                        "idempotency_key_in_use",
                        "idempotency_error",
                    )
                self.refund_requests.append({"key": key, "replayed": True, "params": decode_form(body)})
                return JSONResponse(answer, status_code=status, headers={"Idempotent-Replayed": "true"})
            answer = self._refund(decode_form(body))
            if key and answer.status_code < 500:
                self._idempotent[key] = (body, answer.status_code, json.loads(answer.body))
            self.refund_requests.append({"key": key, "replayed": False, "params": decode_form(body)})
        return answer

    def _refund(self, params: dict[str, Any]) -> JSONResponse:
        charge = self.charges.get(params.get("payment_intent", ""))
        if charge is None:
            return self._error(404, f"No such payment_intent: '{params.get('payment_intent')}'")
        remaining = charge["amount"] - charge["amount_refunded"]
        amount = int(params.get("amount") or remaining)
        if amount < 1 or amount > remaining:
            return self._error(400, "Refund amount is greater than the unrefunded charge", "amount_too_large")
        refund = {
            "id": _id("re"),
            "object": "refund",
            "amount": amount,
            "charge": charge["id"],
            "payment_intent": charge["payment_intent"],
            "currency": charge["currency"],
            "status": "succeeded",
            "created": int(time.time()),
        }
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]
        charge["refunds"]["data"].insert(0, refund)
        self.emit("charge.refunded", json.loads(json.dumps(charge)))
        return JSONResponse(refund)

    async def _cancel_subscription(self, request: Request) -> Response:
        if not self._authorised(request):
            return self._error(401, "Invalid API Key provided", "api_key_invalid", "authentication_error")
        sub = self.subscriptions.get(request.path_params["sub"])
        if sub is None:
            return self._error(404, f"No such subscription: '{request.path_params['sub']}'")
        sub["status"] = "canceled"
        sub["canceled_at"] = int(time.time())
        self.emit("customer.subscription.deleted", dict(sub))
        return JSONResponse(sub)

    async def _retrieve_subscription(self, request: Request) -> Response:
        if not self._authorised(request):
            return self._error(401, "Invalid API Key provided", "api_key_invalid", "authentication_error")
        sub = self.subscriptions.get(request.path_params["sub"])
        if sub is None:
            return self._error(404, f"No such subscription: '{request.path_params['sub']}'")
        return JSONResponse(sub)

    async def _post_subscription(self, request: Request) -> Response:
        """Stripe's `POST /v1/subscriptions/{id}`: the fields the shop changes."""
        if not self._authorised(request):
            return self._error(401, "Invalid API Key provided", "api_key_invalid", "authentication_error")
        params = decode_form((await request.body()).decode())
        with self._lock:
            sub = self.subscriptions.get(request.path_params["sub"])
            if sub is None:
                return self._error(404, f"No such subscription: '{request.path_params['sub']}'")
            if sub["status"] == "canceled":
                return self._error(
                    400,
                    "A canceled subscription can only update its cancellation_details and metadata.",
                    "subscription_canceled",
                )
            previous = {}
            if "cancel_at_period_end" in params:
                value = str(params["cancel_at_period_end"]).lower()
                if value not in ("true", "false"):
                    return self._error(400, "Invalid boolean: cancel_at_period_end", "parameter_invalid_boolean")
                previous["cancel_at_period_end"] = sub["cancel_at_period_end"]
                sub["cancel_at_period_end"] = value == "true"
                sub["cancel_at"] = sub["current_period_end"] if sub["cancel_at_period_end"] else None
            if isinstance(params.get("metadata"), dict):
                sub["metadata"] = {**sub["metadata"], **params["metadata"]}
            obj = json.loads(json.dumps(sub))
        event = self.emit("customer.subscription.updated", obj)
        event["data"]["previous_attributes"] = previous
        return JSONResponse(obj)

    # --- hosted pay page ------------------------------------------------------------

    async def _pay_page(self, request: Request) -> Response:
        found = self._find(request.path_params["sid"])
        if found is None:
            return HTMLResponse(_page("Link not found", "<p>This payment link does not exist.</p>"), status_code=404)
        session = found["session"]
        if session["status"] != "open":
            return HTMLResponse(
                _page(
                    "This link has expired" if session["status"] == "expired" else "Already paid",
                    "<p>This checkout is no longer open. Go back to the shop to start again.</p>",
                ),
                status_code=410,
            )
        rows = "".join(
            f"<tr><td>{html.escape(line['name'])} × {line['quantity']}"
            f"{' <small>(every ' + html.escape(str(line['recurring'].get('interval'))) + ')</small>' if line['recurring'] else ''}"
            f"</td><td class='num'>{_money(line['unit_amount'] * line['quantity'], line['currency'])}</td></tr>"
            for line in found["lines"]
        )
        sid = html.escape(session["id"])
        body = (
            f"<p class='muted'>Paying {html.escape(session.get('customer_email') or 'as guest')}</p>"
            f"<table>{rows}<tr class='total'><td>Total</td><td class='num' id='pay-total'>"
            f"{_money(session['amount_total'], session['currency'])}</td></tr></table>"
            "<div class='card'>Test card 4242 4242 4242 4242 · any future date · any CVC</div>"
            f"<form method='post' action='/pay/{sid}/pay'><button id='pay-button' class='pay'>Pay "
            f"{_money(session['amount_total'], session['currency'])}</button></form>"
            f"<form method='post' action='/pay/{sid}/decline'><button id='decline-button' class='decline'>"
            "Simulate a declined card</button></form>"
        )
        return HTMLResponse(_page("Stripe sandbox checkout", body))

    async def _pay(self, request: Request) -> Response:
        found = self._find(request.path_params["sid"])
        if found is None or found["session"]["status"] != "open":
            return HTMLResponse(_page("Checkout closed", "<p>This checkout is no longer open.</p>"), status_code=410)
        session = found["session"]
        pi, charge_id = _id("pi"), _id("ch")
        session.update(
            status="complete",
            payment_status="paid",
            payment_intent=pi,
            customer=_id("cus"),
            customer_details={"email": session.get("customer_email")},
        )
        self.charges[pi] = {
            "id": charge_id,
            "object": "charge",
            "amount": session["amount_total"],
            "amount_refunded": 0,
            "currency": session["currency"],
            "payment_intent": pi,
            "refunded": False,
            "refunds": {"object": "list", "data": []},
            "paid": True,
        }
        if session["mode"] == "subscription":
            sub_id = _id("sub")
            now = int(time.time())
            self.subscriptions[sub_id] = {
                "id": sub_id,
                "object": "subscription",
                "status": "active",
                "customer": session["customer"],
                "current_period_start": now,
                "current_period_end": now + 30 * 86400,
                "cancel_at_period_end": False,
                "cancel_at": None,
                "canceled_at": None,
                "metadata": session["subscription_metadata"],
                "latest_invoice_amount": sum(
                    line["unit_amount"] * line["quantity"] for line in found["lines"] if line["recurring"]
                ),
                "currency": session["currency"],
            }
            session["subscription"] = sub_id
        self.emit("checkout.session.completed", self._public(session))
        if session["subscription"]:
            self._emit_invoice(session["subscription"], "subscription_create", session["amount_total"])
        target = (session.get("success_url") or "/").replace("{CHECKOUT_SESSION_ID}", session["id"])
        return RedirectResponse(target, status_code=303)

    def _emit_invoice(self, sub_id: str, reason: str, amount: int, *, paid: bool = True) -> dict[str, Any]:
        sub = self.subscriptions[sub_id]
        invoice = {
            "id": _id("in"),
            "object": "invoice",
            "subscription": sub_id,
            "customer": sub["customer"],
            "billing_reason": reason,
            "amount_paid": amount,
            "currency": sub["currency"],
            "status": "paid" if paid else "open",
            "payment_intent": _id("pi"),
            "subscription_details": {"metadata": sub["metadata"]},
            "period_start": sub["current_period_start"],
            "period_end": sub["current_period_end"],
            "amount_due": amount,
            "attempt_count": 1,
        }
        if not paid:
            invoice["amount_paid"] = 0
        return self.emit("invoice.paid" if paid else "invoice.payment_failed", invoice)

    async def _decline(self, request: Request) -> Response:
        found = self._find(request.path_params["sid"])
        if found is None or found["session"]["status"] != "open":
            return HTMLResponse(_page("Checkout closed", "<p>This checkout is no longer open.</p>"), status_code=410)
        session = found["session"]
        self.emit("checkout.session.async_payment_failed", self._public(session))
        back = (session.get("cancel_url") or "/").replace("{CHECKOUT_SESSION_ID}", session["id"])
        back += ("&" if "?" in back else "?") + "declined=1"
        body = (
            "<p id='declined-message' class='error'>Your card was declined. No money was taken.</p>"
            f"<p><a id='back-to-shop' href='{html.escape(back, quote=True)}'>Return to the shop</a></p>"
        )
        return HTMLResponse(_page("Payment declined", body), status_code=402)

    # --- sandbox controls -------------------------------------------------------------

    async def _renew(self, request: Request) -> Response:
        sub = self.subscriptions.get(request.path_params["sub"])
        if sub is None:
            return self._error(404, "No such subscription")
        if sub["status"] == "canceled":
            return self._error(400, "This subscription is canceled.", "subscription_canceled")
        if sub["cancel_at_period_end"]:  # the period ran out: Stripe ends it instead of renewing
            sub["status"], sub["canceled_at"] = "canceled", int(time.time())
            return JSONResponse(self.emit("customer.subscription.deleted", dict(sub)))
        sub["current_period_start"] = sub["current_period_end"]
        sub["current_period_end"] += 30 * 86400
        sub["status"] = "active"
        return JSONResponse(self._emit_invoice(sub["id"], "subscription_cycle", sub["latest_invoice_amount"]))

    async def _fail_renewal(self, request: Request) -> Response:
        sub = self.subscriptions.get(request.path_params["sub"])
        if sub is None:
            return self._error(404, "No such subscription")
        sub["current_period_start"] = sub["current_period_end"]
        sub["current_period_end"] += 30 * 86400
        sub["status"] = "past_due"
        event = self._emit_invoice(sub["id"], "subscription_cycle", sub["latest_invoice_amount"], paid=False)
        self.emit("customer.subscription.updated", dict(sub))
        return JSONResponse(event)

    async def _update_subscription(self, request: Request) -> Response:
        sub = self.subscriptions.get(request.path_params["sub"])
        if sub is None:
            return self._error(404, "No such subscription")
        params = decode_form((await request.body()).decode())
        if "cancel_at_period_end" in params:
            sub["cancel_at_period_end"] = params["cancel_at_period_end"] == "true"
        if "status" in params:
            sub["status"] = params["status"]
        return JSONResponse(self.emit("customer.subscription.updated", dict(sub)))

    async def _list_events(self, request: Request) -> Response:
        with self._lock:
            return JSONResponse({"data": list(self.events)})


def _money(amount: int, currency: str) -> str:
    from smplat.services.money import format_money

    return html.escape(format_money(amount, currency.upper()))


def _page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><meta name='viewport' content='width=device-width'>"
        f"<title>{html.escape(title)}</title><style>"
        "body{font-family:-apple-system,Segoe UI,Roboto,sans-serif;background:#f6f9fc;color:#1a1f36;margin:0}"
        ".box{max-width:440px;margin:48px auto;background:#fff;border-radius:12px;padding:32px;"
        "box-shadow:0 6px 24px rgba(50,50,93,.12)}h1{font-size:20px;margin:0 0 4px}.badge{display:inline-block;"
        "font-size:11px;background:#ffe8cc;color:#a04f00;border-radius:4px;padding:2px 6px;margin-bottom:16px}"
        "table{width:100%;border-collapse:collapse;margin:16px 0}td{padding:8px 0;border-bottom:1px solid #e3e8ee}"
        ".num{text-align:right}.total td{font-weight:700;border:0}.muted{color:#697386;font-size:14px}"
        ".card{background:#f6f9fc;border:1px solid #e3e8ee;border-radius:6px;padding:10px;font-size:13px;color:#697386}"
        "button{width:100%;padding:12px;border:0;border-radius:6px;font-size:16px;margin-top:12px;cursor:pointer}"
        ".pay{background:#635bff;color:#fff}.decline{background:#fff;color:#c0123c;border:1px solid #f3c0cb}"
        ".error{color:#c0123c;font-weight:600}a{color:#635bff}</style></head><body><div class='box'>"
        f"<span class='badge'>TEST MODE · local sandbox</span><h1>{html.escape(title)}</h1>{body}</div></body></html>"
    )
