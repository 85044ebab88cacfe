"""Under ASGI every request has a cache object of its own (Django keeps them per request
context, per thread elsewhere): they must share the process's Redis connections, not open one
each, and each cache object reuses its Redis client instead of building one per call
(apps/node/cache.py). Its reads go on a connection of each thread's own, which a forked child
does not share and which a connection Redis closed does not fail."""

from __future__ import annotations

import os
import threading
import warnings

from django.core.cache.backends.base import CacheKeyWarning
from redis import Redis

from apps.node import cache as node_cache
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


def _connection_id(cache: ProcessRedisCache) -> int:
    """The Redis client id of this thread's connection for the cache's reads."""
    connection = node_cache._thread_connections.of(cache._cache._get_connection_pool(False))
    connection.send_command("CLIENT", "ID")
    return connection.read_response()


def test_a_threads_reads_go_on_one_connection_of_its_own():
    cache = _cache()
    cache.set("growr-test-thread-reads", "kept", 5)
    cache.get_many(["growr-test-thread-reads"])
    mine = _connection_id(cache)
    theirs = []
    thread = threading.Thread(target=lambda: theirs.append(_connection_id(_cache())))
    thread.start()
    thread.join()

    for _ in range(20):
        assert _cache().get("growr-test-thread-reads") == "kept"

    assert _connection_id(cache) == mine and theirs[0] != mine


def test_a_read_on_a_connection_redis_closed_is_answered_on_a_new_one(caplog):
    cache = _cache()
    cache.set("growr-test-closed", "kept", 5)
    closed = _connection_id(cache)
    Redis.from_url(URL).client_kill_filter(_id=closed)

    assert cache.get_many(["growr-test-closed"]) == {"growr-test-closed": "kept"}
    assert _connection_id(cache) != closed
    assert "out of reach" not in caplog.text


def test_a_forked_child_reads_on_a_connection_of_its_own():
    cache = _cache()
    parents = _connection_id(cache)
    reading, writing = os.pipe()
    child = os.fork()
    if child == 0:  # the child: reports its connection and leaves at once
        os.write(writing, str(_connection_id(cache)).encode())
        os._exit(0)
    os.waitpid(child, 0)
    os.close(writing)
    with os.fdopen(reading) as report:
        childs = int(report.read())

    assert childs != parents and _connection_id(cache) == parents
