"""Counting the queries a page costs, for the tests that prove list pages cost the same
number of queries whatever the number of rows."""

from __future__ import annotations

from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext


def page_queries(client, url: str, *, cached: bool = False) -> int:
    """How many queries one successful GET of URL runs: with nothing cached (the whole cost of
    the page), or, CACHED, right after the same GET filled the cache."""
    cache.clear()
    if cached:
        client.get(url)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.status_code
    return len(captured)
