"""How project pages show amounts, rates and durations: exact decimals, never floats."""

from __future__ import annotations

from decimal import Decimal

from django import template

from ..schedule import UnknownCurrency, minor_units
from ..services import DURATION_UNITS

register = template.Library()


@register.filter
def money(amount: Decimal | None, currency: str) -> str:
    """5,000.00 KES: the amount at the currency's minor units, with thousands separators."""
    if amount is None:
        return ""
    try:
        places = minor_units(currency)
    except UnknownCurrency:
        return f"{amount} {currency}"
    return f"{format(Decimal(amount).quantize(Decimal(1).scaleb(-places)), ',f')} {currency}"


@register.filter
def amount(value: Decimal | None, currency: str) -> str:
    """5,000.00: as money, without the currency (for table cells under a currency heading)."""
    return money(value, currency).rsplit(" ", 1)[0]


@register.filter
def number(value: Decimal | None) -> str:
    """18 rather than 18.0000; 1.5 rather than 1.500."""
    if value is None:
        return ""
    text = format(Decimal(value).normalize(), "f")
    return text


@register.filter
def periods(count: int, frequency: str) -> str:
    """'6 months', '1 fortnight', '90 days': COUNT repayment periods of FREQUENCY."""
    unit = DURATION_UNITS.get(frequency, "periods")
    return f"{count} {unit[:-1] if count == 1 else unit}"


@register.filter
def period_unit(frequency: str) -> str:
    return DURATION_UNITS.get(frequency, "periods")
