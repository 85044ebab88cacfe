"""compact-encoding uints: round trips and refusal of truncated input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apps.ledger.hypercore.encoding import decode_uint, encode_uint
from apps.ledger.hypercore.errors import DecodeError


@given(st.integers(min_value=0, max_value=2**64 - 1))
def test_uints_round_trip(value):
    encoded = encode_uint(value)

    assert decode_uint(encoded) == (value, len(encoded))


@pytest.mark.parametrize(("value", "width"), [(0xFC, 1), (0xFD, 3), (0x10000, 5), (2**32, 9)])
def test_uint_widths_follow_compact_encoding(value, width):
    assert len(encode_uint(value)) == width


@given(st.integers(min_value=0xFD, max_value=2**64 - 1), st.data())
def test_truncated_uints_are_refused(value, data):
    encoded = encode_uint(value)
    cut = data.draw(st.integers(min_value=0, max_value=len(encoded) - 1))

    with pytest.raises(DecodeError):
        decode_uint(encoded[:cut])
