"""One pool of Redis connections per process for Django's cache, and one client per pool; and
answers kept beside the version they were built at (kept_at_version).

Django keeps a cache object per thread, and under ASGI every request runs in a thread of its
own, so its Redis cache opened a connection for every request and dropped it after (Django
tickets #33625 and #35651). redis-py's pools are thread-safe and reset themselves in a forked
child, so every cache object of a process shares one (settings: CACHES' "pool_class")."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import ClassVar

from django.core.cache import cache
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis import ConnectionPool, Redis, RedisError

logger = logging.getLogger(__name__)


class ProcessConnectionPool(ConnectionPool):
    _pools: ClassVar[dict[tuple, ConnectionPool]] = {}
    _lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, **options) -> ConnectionPool:
        key = (url, tuple(sorted((name, repr(value)) for name, value in options.items())))
        with cls._lock:
            if key not in cls._pools:
                cls._pools[key] = super().from_url(url, **options)
            return cls._pools[key]


class ProcessRedisCacheClient(RedisCacheClient):
    """Django's Redis cache client, with one redis.Redis per pool instead of one per call.

    Django builds a redis.Redis for every get and set, and each builds its table of response
    callbacks (about 170 entries). Django keeps cache objects per request context under ASGI
    (per thread elsewhere), so the clients are kept per pool for the whole process: a
    redis.Redis is thread-safe and holds no connection of its own (it borrows from the pool)."""

    # One per pool, and the pools are the process's (ProcessConnectionPool keeps one per URL
    # and options for the process's life), so this holds a few clients at most.
    _clients: ClassVar[dict[ConnectionPool, Redis]] = {}
    _lock = threading.Lock()

    def __init__(self, servers, pool_class=None, **options):
        super().__init__(servers, pool_class=pool_class or ProcessConnectionPool, **options)

    def get_client(self, key=None, *, write=False) -> Redis:
        pool = self._get_connection_pool(write)
        client = self._clients.get(pool)
        if client is None:
            with self._lock:
                client = self._clients.setdefault(pool, self._client(connection_pool=pool))
        return client


class ProcessRedisCache(RedisCache):
    """Django's Redis cache on ProcessRedisCacheClient (settings: CACHES' "BACKEND")."""

    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = ProcessRedisCacheClient


def kept_at_version(
    *,
    key: str,
    version_key: str,
    version: Callable[[], object],
    build: Callable[[], bytes],
    seconds: int,
) -> bytes:
    """What BUILD gives, kept SECONDS under KEY beside the version it was built at. The version
    is what the cache holds under VERSION_KEY (VERSION gives it when the cache has none), and a
    kept answer of another version is built again. Both are read in one round trip: under load
    the second round trip of a version-in-the-key cost a tenth of the read APIs' throughput.
    With Redis out of reach the answer is built each time: slower, but still answered."""
    try:
        found = cache.get_many([version_key, key])
        current = found.get(version_key)
        if current is None:
            current = version()
    except RedisError:
        logger.warning("the cache is out of reach: answering without it", exc_info=True)
        return build()
    kept = found.get(key)
    if kept is not None and kept[0] == current:
        return kept[1]
    body = build()
    try:
        cache.set(key, (current, body), timeout=seconds)
    except RedisError:
        logger.warning("the cache is out of reach: the answer is not kept", exc_info=True)
    return body
