"""Splitting money among a project's funders, in plain Python with no Django import.

Every repayment of a loan under a project is split among the project's funders pro rata to what
each put in, by largest remainder (lending.md §d1): every part is first rounded down to the
currency's minor unit, then the units left over go one each to the largest remainders (ties to
the earlier funder), so the parts always add up exactly to the amount split.

A loss (a written-off loan's principal) is taken first by the originator's first-loss cover,
as far as what is left of it reaches, and only the rest is split among the funders the same way.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import TypeVar

K = TypeVar("K", bound=Hashable)


class InvalidSplit(ValueError):
    """An amount or weights that cannot be split (negative, not in minor units, no weight)."""


def _units(amount: Decimal, places: int, what: str) -> int:
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount < 0:
        raise InvalidSplit(f"{what} is a Decimal, zero or more")
    scaled = amount.scaleb(places)
    if scaled != scaled.to_integral_value():
        raise InvalidSplit(f"{what} has more than {places} decimals")
    return int(scaled)


def split_pro_rata(amount: Decimal, weights: Mapping[K, Decimal], places: int) -> dict[K, Decimal]:
    """AMOUNT split among the keys of WEIGHTS in proportion to their weights, in minor units of
    PLACES decimals; the parts add up exactly to AMOUNT. Keys keep their order."""
    units = _units(amount, places, "the amount")
    if not weights:
        raise InvalidSplit("there is no one to split among")
    exact = {key: Fraction(_units(w, places, "a weight")) for key, w in weights.items()}
    total = sum(exact.values())
    if total <= 0:
        raise InvalidSplit("the weights add up to nothing")
    quotas = {key: units * weight / total for key, weight in exact.items()}
    parts = {key: int(quota) for key, quota in quotas.items()}  # floor: quotas are >= 0
    left = units - sum(parts.values())
    order = list(weights)
    by_remainder = sorted(order, key=lambda key: (-(quotas[key] - parts[key]), order.index(key)))
    for key in by_remainder[:left]:
        parts[key] += 1
    return {key: Decimal(parts[key]).scaleb(-places) for key in order}


@dataclass(frozen=True)
class LossSplit:
    covered: Decimal
    """What the originator's first-loss cover takes."""
    funders: dict
    """What each funder loses, pro rata."""


def split_loss(
    loss: Decimal, weights: Mapping[K, Decimal], cover_left: Decimal, places: int
) -> LossSplit:
    """LOSS taken first by what is left of the originator's first-loss cover (COVER_LEFT), the
    rest split among the funders pro rata to WEIGHTS."""
    _units(loss, places, "the loss")
    _units(cover_left, places, "the cover left")
    covered = min(loss, cover_left)
    rest = loss - covered
    funders = split_pro_rata(rest, weights, places) if rest else dict.fromkeys(weights, Decimal(0))
    return LossSplit(covered=covered, funders=funders)
