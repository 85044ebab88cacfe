"""A malicious source answers a follower's pull with whatever it likes. Parsing its answer gives
a book, head or range to verify, or a ReplicationError naming the fault: never another
exception, which would end the pull task instead of recording the source's fault.

What happens to a well-formed answer that lies (blocks that do not verify, a fork, another
book) is tests/ledger/test_ledger_follow.py's story; an answer too big, too slow or not JSON
at all is tests/ledger/test_ledger_replication_client.py's.
"""

from __future__ import annotations

import contextlib
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from apps.ledger.api import replication_binary
from apps.ledger.replication import (
    ReplicationError,
    parse_binary_range,
    parse_blocks,
    parse_book,
    parse_head,
    parse_range,
)

KEY = bytes(range(32))
HEAD = {"length": 1, "fork": 0, "tree_hash": "00" * 32, "signature": "00" * 68}
NODE = {"index": 0, "size": 1, "hash": "00" * 32}
UPGRADE = {"start": 0, "length": 1, "nodes": [NODE], "additionalNodes": [], "signature": "00" * 68}
ANSWERS = {
    "book": {"key": KEY.hex(), "public_key": "00" * 32, "head": HEAD},
    "head": HEAD,
    "range": {"key": KEY.hex(), "head": HEAD, "start": 0, "values": ["00"], "upgrade": UPGRADE},
    "blocks": {
        "key": KEY.hex(),
        "head": HEAD,
        "upgrade": {"fork": 0, "upgrade": UPGRADE},
        "blocks": [{"fork": 0, "block": {"index": 0, "value": "00", "nodes": [NODE]}}],
    },
}
PARSERS = {
    "book": lambda answer: parse_book(answer, key=KEY),
    "head": parse_head,
    "range": lambda answer: parse_range(answer, key=KEY),
    "blocks": lambda answer: parse_blocks(answer, key=KEY),
}
FUZZ = settings(max_examples=150, deadline=None, derandomize=True, database=None)

JSON = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.floats(allow_nan=False),
        st.text(max_size=80),
        st.sampled_from(["00" * 32, "00" * 68, "zz", "-1", ""]),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


def _paths(value, prefix=()):
    """Every place in VALUE a liar could put something else."""
    yield prefix
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _paths(inner, (*prefix, index))


def _replaced(value, path, new):
    if not path:
        return new
    copy = json.loads(json.dumps(value))
    holder = copy
    for step in path[:-1]:
        holder = holder[step]
    holder[path[-1]] = new
    return copy


@st.composite
def _lies(draw):
    """A real answer with one field, anywhere in it, made something else, or another object
    altogether (the HTTP side already refuses an answer that is no JSON object)."""
    kind = draw(st.sampled_from(sorted(ANSWERS)))
    answer = ANSWERS[kind]
    path = draw(st.sampled_from(list(_paths(answer))))
    if not path:
        return kind, draw(st.dictionaries(st.text(max_size=12), JSON, max_size=6))
    return kind, _replaced(answer, path, draw(JSON))


@FUZZ
@given(_lies())
def test_a_source_lying_in_any_field_is_a_replication_error_or_a_value(lie):
    kind, answer = lie
    with contextlib.suppress(ReplicationError):
        PARSERS[kind](answer)


BINARY = replication_binary(
    {"key": KEY.hex(), "head": HEAD, "start": 0, "upgrade": UPGRADE}, [b"\x00", b"\x01\x02"]
)


@st.composite
def _binary_lies(draw):
    """The binary range, cut, grown, or with bytes overwritten, or bytes of no range at all."""
    body = bytearray(BINARY)
    how = draw(st.sampled_from(["cut", "grown", "overwritten", "anything"]))
    if how == "cut":
        return bytes(body[: draw(st.integers(0, len(body) - 1))])
    if how == "grown":
        return bytes(body) + draw(st.binary(min_size=1, max_size=40))
    if how == "overwritten":
        for _ in range(draw(st.integers(1, 4))):
            body[draw(st.integers(0, len(body) - 1))] = draw(st.integers(0, 255))
        return bytes(body)
    return draw(st.binary(max_size=200))


@FUZZ
@given(_binary_lies())
def test_a_binary_range_bent_any_way_is_a_replication_error_or_a_range(body):
    with contextlib.suppress(ReplicationError):
        parse_binary_range(body, key=KEY)
