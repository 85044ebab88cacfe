"""Under ASGI every request runs in a thread of its own with a cache object of its own: they
must share the process's Redis connections, not open one each (apps/node/cache.py)."""

from __future__ import annotations

import threading

from django.core.cache.backends.redis import RedisCache

from apps.node.cache import ProcessConnectionPool

URL = "redis://127.0.0.1:6379/9"


def _pool_of_a_new_cache_object(url: str = URL):
    cache = RedisCache(url, {"OPTIONS": {"pool_class": "apps.node.cache.ProcessConnectionPool"}})
    return cache._cache._get_connection_pool(write=True)


def test_every_cache_object_of_a_process_shares_one_pool():
    pools = [_pool_of_a_new_cache_object()]
    thread = threading.Thread(target=lambda: pools.append(_pool_of_a_new_cache_object()))
    thread.start()
    thread.join()

    assert pools[0] is pools[1]
    assert isinstance(pools[0], ProcessConnectionPool)
    assert _pool_of_a_new_cache_object("redis://127.0.0.1:6379/8") is not pools[0]
