"""Adapters to the outside world (SMTP, Stripe, SMM panels, Instagram), each behind a small interface."""
