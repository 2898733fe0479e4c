"""Cookie consent: the visitor's stored choice decides whether analytics events are recorded.

The banner stores the choice in the `smplat_consent` cookie (not sensitive, so a page may
write it). Every analytics recorder (searches, preset events, experiment exposures) asks
`allows_analytics` first; no choice yet means no analytics.
"""

from __future__ import annotations

from smplat.models.base import StrEnum

CONSENT_COOKIE = "smplat_consent"
CONSENT_MAX_AGE_SECONDS = 180 * 24 * 3600


class Consent(StrEnum):
    ALL = "all"  # essential + analytics
    ESSENTIAL = "essential"  # only what the shop needs to work


def allows_analytics(cookie_value: str | None) -> bool:
    return cookie_value == Consent.ALL.value


def has_chosen(cookie_value: str | None) -> bool:
    return cookie_value in Consent.values()
