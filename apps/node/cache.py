"""Django's cache on Redis, as the node uses it: one pool of connections per process, one client
per pool, answers without Redis while it is out of reach; and answers kept beside the version
they were built at (kept_at_version), which can be a generation counted in the cache.

Django keeps a cache object per thread, and under ASGI every request runs in a thread of its
own, so its Redis cache opened a connection for every request and dropped it after (Django
tickets #33625 and #35651). redis-py's pools are thread-safe and reset themselves in a forked
child, so every cache object of a process shares one (settings: CACHES' "pool_class").

Nothing the node keeps in the cache is the only copy of anything: sessions are written through
to the database, and every other entry is kept under the version it was built at and lasts
seconds to a minute. So a cache out of reach is a cache that misses and keeps nothing, and the
pages, sessions and read APIs are built from the database meanwhile (slower, but answered)."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from time import monotonic
from typing import ClassVar, TypeVar

from django.core.cache import cache, caches
from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from django.db import transaction
from redis import Connection, ConnectionPool, Redis, RedisError
from redis.exceptions import ConnectionError as ConnectionLost

logger = logging.getLogger(__name__)

Kept = TypeVar("Kept")


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

    def get(self, key, default):
        (value,) = self._mget([key])
        return default if value is None else self._serializer.loads(value)

    def get_many(self, keys):
        if not keys:
            return {}
        values = self._mget(list(keys))
        return {
            key: self._serializer.loads(value)
            for key, value in zip(keys, values, strict=True)
            if value is not None
        }

    def _mget(self, keys: list[str]) -> list:
        """The values under KEYS (None where none), read on a connection of this thread's own;
        again on a fresh one where the kept one was closed under it (Redis restarted, an idle
        timeout): a read is safe to repeat. Any other error, or the same one twice, is raised."""
        connection = _thread_connections.of(self._get_connection_pool(False))
        try:
            connection.send_command("MGET", *keys)
            return connection.read_response()
        except ConnectionLost:  # redis-py closed the connection: the next send opens one
            connection.send_command("MGET", *keys)
            return connection.read_response()


class _ThreadConnections(threading.local):
    """A connection per thread and pool, outside the pool, for the cache's reads.

    Every call through redis-py's pool pays for more than the round trip: the pool's lock, a
    poll of the socket for data left unread (a system call), its metrics, the client's retry
    and response callbacks. A signed-in page's one read of the cache (seven keys) took 120 µs
    of CPU that way and 95 this way, in a loop (warm caches: more in a request).

    A connection held by one thread is never handed over with an answer half read: redis-py
    closes it on any error while sending or reading (and a forked child opens its own, as the
    pid tells). Threads are few and long-lived (the web server's request threads, a worker's),
    so are these connections; one closes with its thread."""

    def __init__(self) -> None:
        self.by_pool: dict[ConnectionPool, tuple[int, Connection]] = {}

    def of(self, pool: ConnectionPool) -> Connection:
        kept = self.by_pool.get(pool)
        if kept is not None and kept[0] == os.getpid():
            return kept[1]
        connection = pool.connection_class(**pool.connection_kwargs)
        self.by_pool[pool] = (os.getpid(), connection)
        return connection


_thread_connections = _ThreadConnections()


class ProcessRedisCache(RedisCache):
    """Django's Redis cache on ProcessRedisCacheClient (settings: CACHES' "BACKEND"), which
    misses while Redis is out of reach: a read finds nothing, a write keeps nothing. A process
    that found it out of reach leaves it alone for RETRY_SECONDS, so an outage costs a request
    no connection timeout after the first, and is logged once per retry, not per call.

    An entry lasts LONGEST_TIMEOUT seconds at most when the alias sets it (CACHES' sessions)."""

    RETRY_SECONDS = 5.0
    # Per Redis (its servers), when this process asks it again.
    _out_of_reach_until: ClassVar[dict[tuple[str, ...], float]] = {}

    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = ProcessRedisCacheClient
        self._longest_timeout = params.get("LONGEST_TIMEOUT")

    def get_backend_timeout(self, timeout=DEFAULT_TIMEOUT):
        seconds = super().get_backend_timeout(timeout)
        if self._longest_timeout is None:
            return seconds
        return self._longest_timeout if seconds is None else min(seconds, self._longest_timeout)

    def validate_key(self, key: str) -> None:
        """Nothing to check: the rules Django's caches warn about (250 characters, no spaces or
        control characters) are memcached's, and Redis takes any key. Django's check walks every
        character of every key in Python: 9 µs of the 130 a signed-in request takes here to read
        its session and person (seven keys)."""

    def ping(self) -> None:
        """Raises RedisError when Redis does not answer, whatever this process found before."""
        self._cache.get_client().ping()

    def _or_missed(self, missed, call, *args):
        servers = tuple(self._servers)
        if monotonic() < self._out_of_reach_until.get(servers, 0.0):
            return missed
        try:
            return call(*args)
        except RedisError:
            self._out_of_reach_until[servers] = monotonic() + self.RETRY_SECONDS
            logger.warning(
                "the cache is out of reach: answering without it for %s s",
                self.RETRY_SECONDS,
                exc_info=True,
            )
            return missed

    def get(self, key, default=None, version=None):
        return self._or_missed(default, super().get, key, default, version)

    def get_many(self, keys, version=None):
        return self._or_missed({}, super().get_many, keys, version)

    def has_key(self, key, version=None):
        return self._or_missed(False, super().has_key, key, version)

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._or_missed(False, super().add, key, value, timeout, version)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._or_missed(None, super().set, key, value, timeout, version)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return self._or_missed(list(data), super().set_many, data, timeout, version)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._or_missed(False, super().touch, key, timeout, version)

    def delete(self, key, version=None):
        return self._or_missed(False, super().delete, key, version)

    def delete_many(self, keys, version=None):
        return self._or_missed(None, super().delete_many, keys, version)

    def incr(self, key, delta=1, version=None):
        """The new value; None when Redis is out of reach (nothing was counted)."""
        return self._or_missed(None, super().incr, key, delta, version)

    def clear(self):
        return self._or_missed(False, super().clear)


class _GenerationsMoved:
    """How many times this process moved a generation on: a read ahead is good while it stays."""

    count = 0
    lock = threading.Lock()

    @classmethod
    def one_more(cls) -> None:
        with cls.lock:
            cls.count += 1


@dataclass(frozen=True)
class ReadAhead:
    """Kept answers and their generations read ahead of their use, several in one round trip
    (read_ahead). Good while this process moves no generation on: the request's own change may
    be among them (a visit to the notifications marks them read before the layout's bell)."""

    found: dict
    moves: int
    asked: frozenset[str]

    def still_good(self) -> bool:
        return self.moves == _GenerationsMoved.count


def read_ahead(keys: list[str], *, using: BaseCache | None = None) -> ReadAhead:
    """KEYS of the node's cache, or of USING, which must be the same store (one_store)."""
    moves = _GenerationsMoved.count
    return ReadAhead(found=(using or cache).get_many(keys), moves=moves, asked=frozenset(keys))


def one_store(other: BaseCache) -> bool:
    """Whether OTHER keeps its entries where the node's cache does, under the same keys: then one
    round trip reads both (the sessions' cache and the default are one Redis: redis_caches)."""
    default = caches["default"]
    if other is default:
        return True
    return (
        isinstance(other, RedisCache)
        and isinstance(default, RedisCache)
        and other._servers == default._servers
        and (other.key_prefix, other.version, other.key_func)
        == (default.key_prefix, default.version, default.key_func)
    )


class HeldCopies:
    """Kept answers held in a process, the most recently served up to BUDGET bytes in all: a
    (version, body, expiry) as kept_at_version keeps it under its key in the cache, until that
    expiry (the moment the cache's copy expires, on the clock every process reads). One is
    served only where its version is the one the cache holds, so a held copy saves reading the
    body again, never a check of its version."""

    def __init__(self, *, budget: int) -> None:
        self.budget = budget
        self._copies: OrderedDict[str, tuple[object, bytes, float]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()  # a process serves a request on each of its threads

    def get(self, key: str) -> tuple[object, bytes, float] | None:
        with self._lock:
            kept = self._copies.get(key)
            if kept is None:
                return None
            if kept[2] <= time.time():
                self._drop(key)
                return None
            self._copies.move_to_end(key)
            return kept

    def hold(self, key: str, kept: tuple[object, bytes, float]) -> None:
        with self._lock:
            self._drop(key)
            self._copies[key] = kept
            self._bytes += len(kept[1])
            while self._bytes > self.budget:
                self._drop(next(iter(self._copies)))

    def _drop(self, key: str) -> None:
        kept = self._copies.pop(key, None)
        if kept is not None:
            self._bytes -= len(kept[1])


def kept_at_version(
    *,
    key: str,
    version_key: str,
    version: Callable[[], object],
    build: Callable[[], Kept],
    seconds: int,
    ahead: ReadAhead | None = None,
) -> Kept:
    """What BUILD gives, kept SECONDS under KEY beside the version it was built at. The version
    is what the cache holds under VERSION_KEY (VERSION gives it when the cache has none), and a
    kept answer of another version is built again. Both are read in one round trip: under load
    the second round trip of a version-in-the-key cost a tenth of the read APIs' throughput.
    AHEAD, when still good, is that round trip, made ahead with other answers' keys.
    With Redis out of reach the answer is built each time: slower, but still answered."""
    if ahead is not None and ahead.still_good():
        found = ahead.found
    else:
        found = cache.get_many([version_key, key])
    current = found.get(version_key)
    if current is None:
        current = version()
    kept = found.get(key)
    if kept is not None and kept[0] == current:
        return kept[1]
    body = build()
    # With its expiry, for a process that holds it (HeldCopies): it must not outlive this copy.
    cache.set(key, (current, body, time.time() + seconds), timeout=seconds)
    return body


def kept_if_current(*, key: str, version_key: str, held: HeldCopies | None = None) -> object | None:
    """What kept_at_version keeps under KEY, where it was built at the version the cache holds
    under VERSION_KEY now; else None (kept_at_version then builds it). One round trip: for the
    version alone where HELD holds the answer at it, and HELD holds what was read."""
    copy = held.get(key) if held is not None else None
    if copy is not None and cache.get(version_key) == copy[0]:
        return copy[1]
    found = cache.get_many([version_key, key])
    current, kept = found.get(version_key), found.get(key)
    if current is None or kept is None or kept[0] != current:
        return None
    # One kept before expiries were kept with it (in an upgrade's first minute) is not held.
    if held is not None and len(kept) == 3:
        held.hold(key, kept)
    return kept[1]


def generation(key: str, *, seconds: int | None = None) -> int:
    """The generation counted under KEY, started from the clock when the cache has none, so a
    generation lost with the cache (an eviction, a restart of Redis) never comes back as one that
    something was kept under. SECONDS bounds how long an untouched count is kept."""
    found = cache.get(key)
    if found is None:
        cache.add(key, time.time_ns(), timeout=seconds)
        found = cache.get(key, 0)
    return found


def next_generation(key: str) -> None:
    """Move the generation under KEY on: what was kept under the one before is built again."""
    _GenerationsMoved.one_more()
    with contextlib.suppress(ValueError):  # none yet: the next reader starts one from the clock
        cache.incr(key)


def next_generation_now_and_after_commit(key: str) -> None:
    """Move the generation under KEY on at once, for reads in the caller's own transaction, and
    again after its commit, for a read that looked in between and kept what it saw before."""
    next_generation(key)
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(lambda: next_generation(key), robust=True)
