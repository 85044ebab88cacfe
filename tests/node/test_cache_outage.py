"""The node's cache while Redis is out of reach (apps/node/cache.py): a read misses, a write keeps
nothing, nothing raises, and it is logged once. The process then leaves Redis alone for a few
seconds, so an outage costs a request no connection timeout, and asks again after: a Redis that
came back is used again. A session's copy lasts a minute at most (settings: redis_caches)."""

from __future__ import annotations

import logging
import shutil
import subprocess
import time
from contextlib import contextmanager

import pytest
from redis import Redis, RedisError

from apps.node import cache as node_cache
from apps.node.cache import ProcessRedisCache
from apps.node.network import free_port
from conftest import IN_CI
from growr_site.settings.base import redis_caches

LIVE_REDIS = "redis://127.0.0.1:6379/9"


def _caches(url: str) -> dict[str, ProcessRedisCache]:
    return {
        alias: ProcessRedisCache(params["LOCATION"], params)
        for alias, params in redis_caches(url).items()
    }


@contextmanager
def _redis_server(port: int, folder):
    """A real Redis on PORT, stopped on the way out."""
    if shutil.which("redis-server") is None:
        message = "needs redis-server (Debian's redis-server; .ci/run installs it)"
        if IN_CI:
            pytest.fail(f"{message}: it must run in CI")
        pytest.skip(message)
    options = {"port": port, "bind": "127.0.0.1", "save": "", "appendonly": "no", "dir": folder}
    command = ["redis-server"]
    for name, value in options.items():
        command += [f"--{name}", str(value)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                Redis(port=port, socket_connect_timeout=0.2).ping()
                break
            except RedisError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)
        yield
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_a_redis_out_of_reach_misses_keeps_nothing_and_says_so_once(caplog):
    cache = _caches(f"redis://127.0.0.1:{free_port()}/0")["default"]

    with caplog.at_level(logging.WARNING, logger="apps.node.cache"):
        assert cache.get("loan:queue", "not kept") == "not kept"
        assert cache.get_many(["loan:queue", "bell"]) == {}
        assert "loan:queue" not in cache
        assert cache.add("loan:queue", "page") is False
        assert cache.set("loan:queue", "page") is None
        assert cache.incr("books:generation") is None
        assert cache.delete("loan:queue") is False
        assert cache.get_or_set("bell", lambda: 3) == 3

    said = [record.getMessage() for record in caplog.records]
    assert said == ["the cache is out of reach: answering without it for 5.0 s"]


def test_a_redis_that_comes_back_is_asked_again_a_few_seconds_later(monkeypatch, tmp_path):
    clock = [1_000.0]
    monkeypatch.setattr(node_cache, "monotonic", lambda: clock[0])
    port = free_port()
    cache = _caches(f"redis://127.0.0.1:{port}/0")["default"]
    assert cache.get("page") is None  # out of reach: found out once

    with _redis_server(port, tmp_path):
        cache.set("page", "kept")
        assert cache.get("page") is None  # not asked: the process leaves it alone meanwhile

        clock[0] += ProcessRedisCache.RETRY_SECONDS
        cache.set("page", "kept")
        assert cache.get("page") == "kept"


def test_a_sessions_copy_lasts_a_minute_at_most_and_other_entries_as_long_as_asked():
    """A sign-out while Redis is out of reach deletes the session from the database only; the
    copy Redis may have kept through the outage must not outlive it by hours."""
    caches = _caches(LIVE_REDIS)
    client = caches["default"]._cache.get_client()
    caches["sessions"].set("session:a", {"_auth_user_id": "7"}, 12 * 3600)
    caches["sessions"].set("session:b", {"_auth_user_id": "8"}, None)
    caches["default"].set("portfolio", "page", 3600)

    def seconds_left(alias: str, key: str) -> int:
        return client.ttl(caches[alias].make_and_validate_key(key))

    try:
        assert 0 < seconds_left("sessions", "session:a") <= 60
        assert 0 < seconds_left("sessions", "session:b") <= 60
        assert seconds_left("default", "portfolio") > 3000
    finally:
        caches["sessions"].delete_many(["session:a", "session:b"])
        caches["default"].delete("portfolio")
