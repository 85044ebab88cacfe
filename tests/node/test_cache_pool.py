"""Under ASGI every request has a cache object of its own (Django keeps them per request
context, per thread elsewhere): they must share the process's Redis connections, not open one
each, and each cache object reuses its Redis client instead of building one per call
(apps/node/cache.py)."""

from __future__ import annotations

import threading
import warnings

from django.core.cache.backends.base import CacheKeyWarning

from apps.node.cache import ProcessConnectionPool, ProcessRedisCache

URL = "redis://127.0.0.1:6379/9"


def _pool_of_a_new_cache_object(url: str = URL):
    return _cache(url)._cache._get_connection_pool(write=True)


def _cache(url: str = URL) -> ProcessRedisCache:
    return ProcessRedisCache(
        url, {"OPTIONS": {"pool_class": "apps.node.cache.ProcessConnectionPool"}}
    )


def test_every_cache_object_of_a_process_shares_one_pool():
    pools = [_pool_of_a_new_cache_object()]
    thread = threading.Thread(target=lambda: pools.append(_pool_of_a_new_cache_object()))
    thread.start()
    thread.join()

    assert pools[0] is pools[1]
    assert isinstance(pools[0], ProcessConnectionPool)
    assert _pool_of_a_new_cache_object("redis://127.0.0.1:6379/8") is not pools[0]


def test_every_cache_object_of_a_process_shares_one_client():
    """Each thread, and under ASGI each request, has a cache object of its own."""
    cache = _cache()
    client = cache._cache.get_client(write=True)
    seen = []

    def use() -> None:
        other = _cache()
        other.set("growr-test-shared-client", "from a thread", 5)
        seen.append(other._cache.get_client())

    thread = threading.Thread(target=use)
    thread.start()
    thread.join()

    assert seen == [client] and cache._cache.get_client("any key") is client
    assert cache.get("growr-test-shared-client") == "from a thread"
    assert _cache("redis://127.0.0.1:6379/8")._cache.get_client() is not client
    cache.delete("growr-test-shared-client")


def test_a_key_memcached_would_refuse_is_kept_without_a_warning():
    cache = _cache()
    key = "page: " + "x" * 300

    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheKeyWarning)
        cache.set(key, "kept", timeout=5)
        kept = cache.get_many([key])

    assert kept == {key: "kept"}
