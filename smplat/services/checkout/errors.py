"""Errors of the checkout domain, with named codes (pages map codes, API routes statuses)."""

from __future__ import annotations

from smplat.integrations.stripe_gateway import PaymentProviderUnavailable
from smplat.services.errors import ErrorCode, ServiceError

__all__ = ["CheckoutError", "PaymentProviderUnavailable"]


class CheckoutError(ServiceError):
    """The customer (or operator) can fix this: empty cart, a line that no longer validates,
    a bad email, nothing to refund. `.errors` holds per-field messages."""

    default_code = ErrorCode.INVALID

    def __init__(
        self,
        message: str,
        errors: dict[str, str] | None = None,
        *,
        code: ErrorCode | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message, code=code, field=field, errors=errors)
