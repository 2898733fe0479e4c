"""The one delivery promise: how long a configured package takes and at what pace.

Every place a customer reads a delivery time (the catalog card, the product page, the cart,
the checkout success page, the receipt, the order pages and the admin order page) shows what
`promise` computes, so no two of them can disagree. The rule, from the configuration:

1. standard speed: the product's `delivery_estimate_hours` (its promise for an ordinary
   package), plus one day (24 h) for every full 2,500 units ordered (units = package size x
   packages): big orders are spread out so growth looks organic;
2. express speed: half of that, at least one hour;
3. gradual (drip-feed): exactly the chosen number of days (`pricing.drip_feed`).

Shown as "Delivered in about 6 h" under a day, else "Delivered in about N days" (hours / 24,
half up), or "Spread evenly over N days" for a drip-feed; the pace ("about 500 followers a
day") is units / days, half up, shown when delivery takes two days or more.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

UNITS_PER_EXTRA_DAY = 2500
SPEEDS = ("standard", "express", "gradual")


def _half_up(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class DeliveryPromise:
    hours: int
    units: int
    unit_label: str
    drip_days: int | None = None

    @property
    def days(self) -> int:
        """Whole days the delivery spans (at least 1)."""
        if self.drip_days is not None:
            return self.drip_days
        return max(1, _half_up(Decimal(self.hours) / 24))

    @property
    def time_text(self) -> str:
        if self.drip_days is not None:
            return f"Spread evenly over {self.days} day{'s' if self.days != 1 else ''}"
        if self.hours < 24:
            return "Delivered within 1 hour" if self.hours <= 1 else f"Delivered in about {self.hours} h"
        return f"Delivered in about {self.days} day{'s' if self.days != 1 else ''}"

    @property
    def pace_text(self) -> str:
        if self.days < 2 or not self.units:
            return ""
        unit = self.unit_label.replace(" / month", "")
        return f"about {_half_up(Decimal(self.units) / self.days):,} {unit} a day"

    @property
    def text(self) -> str:
        """The promise in one line: "Delivered in about 2 days · about 500 followers a day"."""
        return " · ".join(part for part in (self.time_text, self.pace_text) if part)


def promise(
    estimate_hours: int, *, units: int, unit_label: str, speed: str = "standard", drip_days: int | None = None
) -> DeliveryPromise:
    """The rule (module docstring) for `units` delivered at `speed`; `drip_days` for gradual."""
    units = max(0, int(units))
    standard = max(1, int(estimate_hours)) + 24 * (units // UNITS_PER_EXTRA_DAY)
    if speed == "gradual" and drip_days:
        return DeliveryPromise(hours=24 * drip_days, units=units, unit_label=unit_label, drip_days=drip_days)
    if speed == "express":
        return DeliveryPromise(hours=max(1, standard // 2), units=units, unit_label=unit_label)
    return DeliveryPromise(hours=standard, units=units, unit_label=unit_label)


def card_text(estimate_hours: int, min_units: int, unit_label: str) -> str:
    """A catalog card's promise: the smallest package at standard speed ("from" the card's price)."""
    return promise(estimate_hours, units=min_units, unit_label=unit_label).time_text
