"""Money display: integer minor units + ISO code -> text. No float touches money."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

# Minor-unit exponent per currency (ISO 4217); 2 unless listed.
_EXPONENTS = {"JPY": 0, "KRW": 0, "CLP": 0, "VND": 0, "ISK": 0, "BHD": 3, "KWD": 3, "JOD": 3, "OMR": 3, "TND": 3}
_SYMBOLS = {
    "EUR": "€",
    "USD": "$",
    "GBP": "£",
    "JPY": "¥",
    "CHF": "CHF ",
    "PLN": "zł ",
    "SEK": "kr ",
    "CAD": "CA$",
    "AUD": "A$",
}


def exponent(currency: str) -> int:
    return _EXPONENTS.get(currency.upper(), 2)


def to_decimal(amount_minor: int, currency: str) -> Decimal:
    return Decimal(amount_minor).scaleb(-exponent(currency))


def format_money(amount_minor: int | None, currency: str = "EUR") -> str:
    """€1,234.50 style; negative amounts keep their sign in front of the symbol."""
    if amount_minor is None:
        return "—"
    currency = (currency or "EUR").upper()
    places = exponent(currency)
    value = to_decimal(abs(int(amount_minor)), currency)
    text = f"{value:,.{places}f}"
    symbol = _SYMBOLS.get(currency)
    body = f"{symbol}{text}" if symbol else f"{text} {currency}"
    return f"-{body}" if amount_minor < 0 else body


def parse_amount(text: object, currency: str = "EUR", *, allow_negative: bool = False) -> int | None:
    """An amount typed in major units ("25", "25.50", "25,50"; "-3" when `allow_negative`) as
    minor units of `currency`; None when it is not one (not a number, or more decimals than
    the currency has: "0.125" EUR, "5.5" JPY). The one parser for typed amounts: price forms,
    wallet top-ups and adjustments, the CLI."""
    raw = str(text if text is not None else "").strip().replace(",", ".")
    match = re.fullmatch(r"(-?)(\d{1,12})(?:\.(\d+))?", raw)
    places = exponent(currency)
    if not match or len(match.group(3) or "") > places or (match.group(1) and not allow_negative):
        return None
    minor = int(match.group(2)) * 10**places + int((match.group(3) or "").ljust(places, "0") or 0)
    return -minor if match.group(1) else minor


def percentage_of(amount_minor: int, bps: int) -> int:
    """`bps` basis points of an amount in minor units, rounded half up to a whole minor unit
    (the shop's percentage rule: add-ons, experiment prices, promoted prices)."""
    value = (Decimal(amount_minor) * Decimal(bps) / Decimal(10000)).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return int(value)


def pro_rata(amount_minor: int, part: int, whole: int) -> int:
    """What `part` of `whole` units of something priced `amount_minor` is worth, in minor units.

    The one pro-rata rule of the shop (the routing margin check prices the units a task
    sends with it; the Partial refund prices the undelivered units with it): computed in
    integers from the original amount and rounded once, down (floor). Down, because the
    shop never refunds more than the exact share, and a margin computed on a price rounded
    down errs on the safe side like the provider cost, which is rounded up. Never chain two
    pro-rata steps (line -> provider order -> remainder): each rounding loses a unit.

    >>> pro_rata(990, 250, 1000)
    247
    """
    if isinstance(amount_minor, bool) or not all(isinstance(v, int) for v in (amount_minor, part, whole)):
        raise TypeError("pro_rata takes integers (minor units and unit counts)")
    if whole <= 0:
        raise ValueError("the whole must be at least one unit")
    if amount_minor < 0 or part < 0:
        raise ValueError("amount and part must not be negative")
    return amount_minor * part // whole


def round_half_up(value: Decimal) -> int:
    """A Decimal amount of minor units rounded to a whole one, halves away from zero."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def vat_included(gross_minor: int, rate_percent: Decimal | str) -> tuple[int, int]:
    """Split a price that includes VAT into (net, VAT) minor units: the VAT share is
    gross x rate / (100 + rate) rounded half-up once, the net is the rest, so net + VAT is
    always exactly the gross (in every currency: minor units are the currency's own).

    >>> vat_included(1000, "21")
    (826, 174)
    """
    if isinstance(gross_minor, bool) or not isinstance(gross_minor, int):
        raise TypeError("vat_included takes minor units (an integer)")
    rate = Decimal(str(rate_percent))
    if rate < 0:
        raise ValueError("a VAT rate is never negative")
    vat = round_half_up(Decimal(gross_minor) * rate / (Decimal(100) + rate))
    return gross_minor - vat, vat
