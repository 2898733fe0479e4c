"""Checkout with Stripe Checkout, split by concern (see docs/architecture.md):

- `placement`: start a checkout; a paid session becomes exactly one order
- `sessions`: expiry of stale sessions, an operator's fresh link, the admin list
- `payment_events`: Stripe webhook events stored once, claimed once, applied
- `subscriptions`, `refunds`: their Stripe events and operator actions
- `payments`: the one payment-status rule and the refunded total
- `receipts`: the receipt view and email, sent after commit
- `errors`: `CheckoutError`, `PaymentProviderUnavailable`

Callers import the module they need (`from smplat.services.checkout import placement`).
Stripe itself is reached only through `smplat.integrations.stripe_gateway`.
"""

from smplat.services.checkout.errors import CheckoutError, PaymentProviderUnavailable

__all__ = ["CheckoutError", "PaymentProviderUnavailable"]
