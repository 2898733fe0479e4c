"""Local stand-ins for the outside world (SMTP today; Stripe and SMM panel next), on loopback."""
