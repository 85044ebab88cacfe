"""Splitting repayments and losses among funders (apps/funding/distribution.py), no database.

The worked example of lending.md §d1, then properties over random funders and amounts: the parts
always add up exactly to what is split, no part is off its exact share by a minor unit or more,
and a loss reaches funders only once the first-loss cover is used up."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apps.funding.distribution import InvalidSplit, split_loss, split_pro_rata

D = Decimal


def test_the_worked_example_splits_to_the_cent():
    # 94.56 split 25/25/50/900 gives 2.37/2.36/4.73/85.10 (lending.md §d1).
    parts = split_pro_rata(D("94.56"), {"a": D(25), "b": D(25), "c": D(50), "d": D(900)}, 2)
    assert parts == {"a": D("2.37"), "b": D("2.36"), "c": D("4.73"), "d": D("85.10")}


def test_ties_go_to_the_earlier_funder_and_currencies_without_minor_units_split_whole():
    assert split_pro_rata(D("1"), {"x": D(1), "y": D(1)}, 0) == {"x": D(1), "y": D(0)}
    assert split_pro_rata(D("0.001"), {"x": D(1), "y": D(1)}, 3) == {
        "x": D("0.001"),
        "y": D("0.000"),
    }


@pytest.mark.parametrize(
    ("amount", "weights"),
    [
        (D("-1"), {"a": D(1)}),
        (D("1.001"), {"a": D(1)}),
        (D("NaN"), {"a": D(1)}),
        (D("1"), {}),
        (D("1"), {"a": D(0)}),
        (D("1"), {"a": D("-5")}),
    ],
)
def test_what_cannot_be_split_is_refused(amount, weights):
    with pytest.raises(InvalidSplit):
        split_pro_rata(amount, weights, 2)


def test_a_loss_takes_the_cover_first():
    weights = {"ines": D("3000"), "pablo": D("1000")}
    inside = split_loss(D("300.00"), weights, cover_left=D("500.00"), places=2)
    assert inside.covered == D("300.00") and set(inside.funders.values()) == {D(0)}
    beyond = split_loss(D("900.00"), weights, cover_left=D("500.00"), places=2)
    assert beyond.covered == D("500.00")
    assert beyond.funders == {"ines": D("300.00"), "pablo": D("100.00")}


money = st.decimals(min_value=0, max_value=10**9, places=2)
weight = st.decimals(min_value=D("0.01"), max_value=10**7, places=2)


@given(amount=money, weights=st.lists(weight, min_size=1, max_size=40))
def test_parts_add_up_exactly_and_each_is_within_a_unit_of_its_share(amount, weights):
    funders = {f"f{n}": w for n, w in enumerate(weights)}
    parts = split_pro_rata(amount, funders, 2)
    assert sum(parts.values()) == amount
    total = sum(Fraction(w) for w in weights)
    for key, part in parts.items():
        exact = Fraction(amount) * Fraction(funders[key]) / total
        assert part >= 0
        assert abs(Fraction(part) - exact) < Fraction(1, 100)


@given(loss=money, cover=money, weights=st.lists(weight, min_size=1, max_size=20))
def test_a_loss_is_all_accounted_for_and_funders_lose_only_beyond_the_cover(loss, cover, weights):
    funders = {n: w for n, w in enumerate(weights)}
    split = split_loss(loss, funders, cover_left=cover, places=2)
    assert split.covered + sum(split.funders.values()) == loss
    assert split.covered == min(loss, cover)
    if loss <= cover:
        assert not any(split.funders.values())
