"""One pool of Redis connections per process for Django's cache.

Django keeps a cache object per thread, and under ASGI every request runs in a thread of its
own, so its Redis cache opened a connection for every request and dropped it after (Django
tickets #33625 and #35651). redis-py's pools are thread-safe and reset themselves in a forked
child, so every cache object of a process shares one (settings: CACHES' "pool_class")."""

from __future__ import annotations

import threading
from typing import ClassVar

from redis import ConnectionPool


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
