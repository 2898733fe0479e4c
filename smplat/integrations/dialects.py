"""Panel dialects as data: how one provider speaks "panel API v2".

The convention is not a standard. Each provider row stores its dialect in `Provider.dialect`
(JSON); `PanelDialect.from_stored` reads it (an empty or legacy dict is the Perfect-Panel
convention) and `PanelClient` speaks it. Presets cover the common families; an admin picks
one and tunes it (docs/providers.md explains every field).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from smplat.models.providers import ProviderOrderStatus, RefillStatus

Transport = Literal["form", "json", "query"]
ErrorShape = Literal["http200", "http_status"]

_PARAM_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,39}$")
_ORDER_STATUSES = {s.value for s in ProviderOrderStatus} - {ProviderOrderStatus.FAILED.value}
_REFILL_STATUSES = {RefillStatus.PENDING.value, RefillStatus.IN_PROGRESS.value, RefillStatus.COMPLETED.value}
_REFILL_STATUSES |= {RefillStatus.REJECTED.value}

# Parameters each order type sends with `add` besides `service` (the common convention).
CONVENTION_ORDER_PARAMS: dict[str, list[str]] = {
    "Default": ["link", "quantity", "runs", "interval"],
    "Package": ["link"],
    "Custom Comments": ["link", "comments"],
    "Mentions": ["link", "quantity", "usernames"],
    "Mentions with Hashtags": ["link", "quantity", "usernames", "hashtags"],
    "Mentions Custom List": ["link", "usernames"],
    "Mentions Hashtag": ["link", "quantity", "hashtag"],
    "Mentions User Followers": ["link", "quantity", "username"],
    "Mentions Media Likers": ["link", "quantity", "media"],
    "Poll": ["link", "quantity", "answer_number"],
    "Comment Likes": ["link", "quantity", "username"],
    "Subscriptions": ["username", "min", "max", "posts", "delay", "expiry"],
}

_CONVENTION_WORDS = {
    "pending": "pending",
    "in progress": "in_progress",
    "inprogress": "in_progress",
    "processing": "processing",
    "active": "in_progress",
    "completed": "completed",
    "complete": "completed",
    "partial": "partial",
    "canceled": "canceled",
    "cancelled": "canceled",
    "refunded": "refunded",
    "expired": "completed",  # a subscription past its expiry: finished
}
_CONVENTION_REFILL_WORDS = {
    "pending": "pending",
    "in progress": "in_progress",
    "processing": "in_progress",
    "completed": "completed",
    "rejected": "rejected",
    "canceled": "rejected",
    "cancelled": "rejected",
}


def word_key(word: Any) -> str:
    """How status words are compared: case-insensitive, `_` as a space, spaces collapsed."""
    return " ".join(str(word or "").strip().lower().replace("_", " ").split())


class PanelDialect(BaseModel):
    """Everything that differs between panels; every field has the convention's default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    preset: str = Field("perfect_panel", max_length=40)
    transport: Transport = "form"  # form POST, JSON body POST, or GET query string
    key_param: str = "key"  # key / api / api_token
    action_param: str = "action"
    trailing_slash: bool | None = None  # True: always `/api/v2/`; False: never; None: as typed
    error_shape: ErrorShape = "http200"  # {"error": ...} with HTTP 200, or real 4xx/429
    success_envelope: bool = False  # answers like {"status": "success", "order": 151}
    status_words: dict[str, str] = Field(default_factory=lambda: dict(_CONVENTION_WORDS))
    refill_words: dict[str, str] = Field(default_factory=lambda: dict(_CONVENTION_REFILL_WORDS))
    unknown_remains: list[str] = Field(default_factory=lambda: ["unknown", "null", "none", "-", "n/a"])
    order_params: dict[str, list[str]] = Field(default_factory=lambda: dict(CONVENTION_ORDER_PARAMS))
    dripfeed_quantity: Literal["per_run", "total"] = "per_run"  # what `quantity` means with `runs`
    max_ids_per_call: int = Field(100, ge=1, le=100)
    rate_limit_per_second: float | None = Field(None, ge=0.1, le=1000)
    lookup_by_ref: bool = False  # the panel finds an order by our submission key (`ref`)
    # the panel refuses a second order on a link whose order still runs ("You have active order
    # with this link"): reconcile may then probe by re-sending (docs/providers.md)
    refuses_active_link: bool = False
    note: str = Field("", max_length=500)

    @field_validator("key_param", "action_param")
    @classmethod
    def _param_name(cls, value: str) -> str:
        if not _PARAM_RE.match(value):
            raise ValueError("must be a parameter name (letters, digits, underscore)")
        return value

    @field_validator("status_words")
    @classmethod
    def _status_words(cls, value: dict[str, str]) -> dict[str, str]:
        return _words(value, _ORDER_STATUSES)

    @field_validator("refill_words")
    @classmethod
    def _refill_words(cls, value: dict[str, str]) -> dict[str, str]:
        return _words(value, _REFILL_STATUSES)

    @field_validator("unknown_remains")
    @classmethod
    def _unknown_remains(cls, value: list[str]) -> list[str]:
        return [word_key(v) for v in value if word_key(v)][:20]

    @field_validator("order_params")
    @classmethod
    def _order_params(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        if len(value) > 40:
            raise ValueError("at most 40 order types")
        for order_type, params in value.items():
            if not order_type.strip() or len(order_type) > 60:
                raise ValueError(f"order type {order_type[:60]!r} must be 1 to 60 characters")
            bad = [p for p in params if not _PARAM_RE.match(p) or p in ("key", "action", "service")]
            if bad:
                raise ValueError(f"order type {order_type!r}: bad parameter name(s) {', '.join(bad)[:100]}")
        return {k.strip(): list(dict.fromkeys(v)) for k, v in value.items()}

    @model_validator(mode="after")
    def _distinct_names(self) -> PanelDialect:
        if self.key_param == self.action_param:
            raise ValueError("key_param and action_param must differ")
        return self

    # --- reading and writing --------------------------------------------------------------

    @classmethod
    def from_stored(cls, stored: dict[str, Any] | None) -> PanelDialect:
        """The dialect of a provider row. Unknown keys of older rows are ignored; a stored
        dialect that no longer validates falls back to the preset it names (never raises)."""
        data = {k: v for k, v in (stored or {}).items() if k in cls.model_fields}
        preset = PRESETS.get(str(data.get("preset") or "perfect_panel"), PRESETS["perfect_panel"])
        try:
            return cls.model_validate({**preset.model_dump(), **data})
        except ValidationError:
            return preset

    @classmethod
    def parse(cls, data: Any) -> PanelDialect:
        """Validate admin input (a dict or JSON text); raises ValueError with one readable line."""
        import json

        if isinstance(data, str):
            try:
                data = json.loads(data or "{}")
            except json.JSONDecodeError as exc:
                raise ValueError(f"the dialect is not valid JSON (line {exc.lineno}, column {exc.colno})") from None
        if not isinstance(data, dict):
            raise ValueError("the dialect must be a JSON object")
        preset_name = str(data.get("preset") or "perfect_panel")
        if preset_name not in PRESETS and preset_name != "custom":
            raise ValueError(f"unknown preset {preset_name[:40]!r}; use one of {', '.join(PRESETS)} or custom")
        base = PRESETS.get(preset_name, PRESETS["perfect_panel"]).model_dump()
        try:
            return cls.model_validate({**base, **data})
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "dialect"
            raise ValueError(f"{where}: {first['msg']}") from None

    def stored(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    # --- meaning of answers ---------------------------------------------------------------

    def order_status(self, word: Any) -> ProviderOrderStatus:
        """Our status for the panel's word; UNKNOWN (never pending) when it is not mapped."""
        key = word_key(word)
        found = self.status_words.get(key) or self.status_words.get(key.replace(" ", ""))
        return ProviderOrderStatus(found) if found else ProviderOrderStatus.UNKNOWN

    def refill_status(self, word: Any) -> RefillStatus | None:
        key = word_key(word)
        found = self.refill_words.get(key) or self.refill_words.get(key.replace(" ", ""))
        return RefillStatus(found) if found else None

    def params_for(self, order_type: str) -> list[str]:
        by_type = {word_key(k): v for k, v in self.order_params.items()}
        return by_type.get(word_key(order_type)) or by_type.get("default") or CONVENTION_ORDER_PARAMS["Default"]

    def url(self, base_url: str) -> str:
        base = base_url.strip()
        if self.trailing_slash is True and not base.endswith("/"):
            return base + "/"
        if self.trailing_slash is False:
            return base.rstrip("/")
        return base


def _words(value: dict[str, str], allowed: set[str]) -> dict[str, str]:
    if len(value) > 60:
        raise ValueError("at most 60 words")
    out: dict[str, str] = {}
    for word, status in value.items():
        key = word_key(word)
        if not key or len(key) > 60:
            raise ValueError(f"status word {word[:60]!r} must be 1 to 60 characters")
        if status not in allowed:
            raise ValueError(f"{word!r} maps to {status[:30]!r}; use one of {', '.join(sorted(allowed))}")
        out[key] = status
    return out


PRESETS: dict[str, PanelDialect] = {}
PRESETS["perfect_panel"] = PanelDialect(
    preset="perfect_panel",
    note="The common convention (Perfect Panel and most SMM scripts): form POST, `key`, HTTP 200 errors.",
)
PRESETS["strict_http"] = PanelDialect(
    preset="strict_http",
    transport="json",
    key_param="api_token",
    trailing_slash=True,
    error_shape="http_status",
    success_envelope=True,
    status_words={**_CONVENTION_WORDS, "processing": "in_progress"},
    note="JSON body, `api_token`, `/api/v2/`, real 4xx/429 errors, {'status': 'success', ...} answers.",
)
PRESETS["legacy_get"] = PanelDialect(
    preset="legacy_get",
    transport="query",
    key_param="api",
    status_words={
        "awaiting": "pending",
        "running": "in_progress",
        "done": "completed",
        "partially done": "partial",
        "cancelled": "canceled",
        "refunded": "refunded",
        "active": "in_progress",
    },
    refill_words={"awaiting": "pending", "running": "in_progress", "done": "completed", "rejected": "rejected"},
    note="Older scripts: GET query string, `api` key, their own status words, remains 'Unknown' while running.",
)
