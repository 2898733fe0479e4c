"""Named error codes every service raises (Saleor's `error_codes` style).

A service raises `ServiceError` (or a domain subclass) with a code from `ErrorCode`, an
optional field name and a message written for the person who caused it. Pages show the
message (or their own words for a code) beside the field; API routes map the code to an HTTP
status with `http_status`. Nothing anywhere matches on message text.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    INVALID = "invalid"  # a value the user typed or sent is not acceptable
    REQUIRED = "required"  # a value is missing
    NOT_FOUND = "not_found"  # no such thing, or not theirs (never say which)
    FORBIDDEN = "forbidden"  # signed in, but the role does not allow it
    UNAUTHENTICATED = "unauthenticated"  # nobody is signed in
    CONFLICT = "conflict"  # the thing is in a state that does not allow it now
    NOT_ALLOWED = "not_allowed"  # the rules of the product or service do not allow it
    THROTTLED = "throttled"  # too many attempts; try later
    UNAVAILABLE = "unavailable"  # an outside service did not answer; nothing was stored


_HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.INVALID: 400,
    ErrorCode.REQUIRED: 400,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.CONFLICT: 409,
    ErrorCode.NOT_ALLOWED: 409,
    ErrorCode.THROTTLED: 429,
    ErrorCode.UNAVAILABLE: 503,
}


class ServiceError(Exception):
    """An error with a named code, the field it belongs to (if any) and a kind message."""

    default_code: ErrorCode = ErrorCode.INVALID

    def __init__(
        self,
        message: str,
        *,
        code: ErrorCode | None = None,
        field: str | None = None,
        errors: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = ErrorCode(code or self.default_code)
        self.field = field
        # Per-field messages when one action found several problems (a configurator form).
        self.errors = dict(errors or {})

    def as_json(self) -> dict[str, object]:
        body: dict[str, object] = {"error": self.message, "code": self.code.value}
        if self.field:
            body["field"] = self.field
        if self.errors:
            body["errors"] = self.errors
        return body


def http_status(error: ServiceError) -> int:
    """The HTTP status an API route answers for a service error."""
    return _HTTP_STATUS.get(error.code, 400)
