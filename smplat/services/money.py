"""Money display: integer minor units + ISO code -> text. No float touches money."""

from __future__ import annotations

from decimal import Decimal

# Minor-unit exponent per currency (ISO 4217); 2 unless listed.
_EXPONENTS = {"JPY": 0, "KRW": 0, "CLP": 0, "VND": 0, "ISK": 0, "BHD": 3, "KWD": 3, "JOD": 3, "OMR": 3, "TND": 3}
_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "CHF": "CHF ", "PLN": "zł ", "SEK": "kr ", "CAD": "CA$",
            "AUD": "A$"}


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
