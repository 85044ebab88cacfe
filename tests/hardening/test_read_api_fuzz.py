"""The public read API of the books, asked anything by anyone: keys that are no hex, of the
wrong length or in another script; indexes below zero or past 2^64; ranges the size of the
world; encodings and entry keys made of whatever hypothesis writes. The answer is never a 5xx,
an error is always the API's JSON error, and reading writes nothing.

A follower pulling from a lying source (forged blocks, a fork, a head that does not verify)
is the business of tests/ledger/test_ledger_replication_client.py and test_ledger_follow.py.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.ledger.models import Log

ENDPOINTS = ["", "blocks/", "replication/", "entry/", "history/", "head/"]
INTEGERS = st.one_of(
    st.integers(-3, 12),
    st.integers(-(2**70), 2**70),
    st.sampled_from([2**63 - 1, 2**63, 2**64, -(2**63) - 1, 10**100]),
).map(str)
NUMBERISH = st.one_of(
    INTEGERS,
    st.sampled_from(
        ["", "1.5", "1e3", "nan", "inf", "-inf", "0x10", "\u0663", "\uff11", " 1", "1 "]
    ),
    st.text(max_size=20),
)


def _short_wait(value: str) -> bool:
    """The head's long poll waits up to 25 s for news that never comes here: ask only for a
    wait the node refuses or that ends at once."""
    try:
        seconds = float(value)
    except ValueError:
        return True
    return not 0.01 < seconds <= 25


def _keys(real: list[str]):
    hexes = st.text(alphabet="0123456789abcdef", min_size=0, max_size=80)
    return st.one_of(
        st.sampled_from(real),
        st.sampled_from(real).map(str.upper),
        st.sampled_from(real).map(lambda key: key[:-1]),
        st.sampled_from(real).map(lambda key: key + "0"),
        hexes,
        st.text(min_size=1, max_size=70),
    ).filter(lambda key: key not in ("", ".", ".."))


def _query():
    return st.dictionaries(
        st.sampled_from(["start", "end", "since", "encoding", "key", "after", "wait", "format"]),
        st.one_of(NUMBERISH, st.sampled_from(["json", "binary", "api", "loan:x", "BAD KEY"])),
        max_size=5,
    ).filter(lambda query: _short_wait(query.get("wait", "0")))


def _writes(queries: list[dict]) -> list[str]:
    return [
        q["sql"]
        for q in queries
        if q["sql"].lstrip().split(" ", 1)[0].upper() in {"INSERT", "UPDATE", "DELETE"}
    ]


@pytest.fixture
def book_keys(world, db) -> list[str]:
    return [bytes(key).hex() for key in Log.objects.values_list("key", flat=True)]


def test_whatever_a_reader_asks_the_books_answer_in_json_and_nothing_is_written(book_keys, client):
    @settings(
        max_examples=150,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(key=_keys(book_keys), endpoint=st.sampled_from(ENDPOINTS), query=_query())
    def a_reader_asks(key, endpoint, query):
        if endpoint == "head/":
            query.setdefault("wait", "0")  # not the default 20 s
        path = f"/api/books/{quote(key, safe='')}/{endpoint}"
        with CaptureQueriesContext(connection) as queries:
            response = client.get(path, query, HTTP_ACCEPT="application/json")
        asked = f"{path}?{urlencode(query)}"

        assert response.status_code < 500, asked
        assert _writes(queries.captured_queries) == [], asked
        if response.status_code >= 400:
            assert response["Content-Type"].startswith("application/json"), asked
            assert set(response.json()["error"]) >= {"code", "message"}, asked
        elif response["Content-Type"].startswith("application/json"):
            response.json()

    a_reader_asks()
