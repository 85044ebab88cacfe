"""A page kept beside the version it was built at: built once per version, read back with the
version in one round trip to the cache, and built again when the version moves on
(apps.node.cache.kept_at_version)."""

from __future__ import annotations

import time

import pytest
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache

from apps.node import cache as node_cache

VERSION_KEY = "test:kept:version"
KEY = "test:kept:answer"


@pytest.fixture(autouse=True)
def _clean_keys():
    cache.delete_many([VERSION_KEY, KEY])
    yield
    cache.delete_many([VERSION_KEY, KEY])


def _kept(builds: list[int]) -> bytes:
    def build() -> bytes:
        builds.append(1)
        return f"page {cache.get(VERSION_KEY)}".encode()

    def version() -> int:
        cache.set(VERSION_KEY, 1)
        return 1

    return node_cache.kept_at_version(
        key=KEY, version_key=VERSION_KEY, version=version, build=build, seconds=60
    )


def test_an_answer_is_built_once_per_version_and_read_in_one_round_trip(monkeypatch):
    if not isinstance(caches["default"], RedisCache):
        pytest.skip("round trips are Redis's: the embedded default's cache is in the process")
    builds: list[int] = []
    first = _kept(builds)
    reads = []
    monkeypatch.setattr(cache, "get", lambda *a, **k: reads.append(a))
    many = cache.get_many
    monkeypatch.setattr(cache, "get_many", lambda keys: reads.append(keys) or many(keys))

    again = _kept(builds)

    assert (first, again, len(builds)) == (b"page 1", b"page 1", 1)
    assert reads == [[VERSION_KEY, KEY]]


def test_a_new_version_builds_the_answer_again():
    builds: list[int] = []
    _kept(builds)
    cache.set(VERSION_KEY, 2)

    assert (_kept(builds), len(builds)) == (b"page 2", 2)
    assert (_kept(builds), len(builds)) == (b"page 2", 2)


def test_with_redis_out_of_reach_the_answer_is_built_each_time(redis_out_of_reach):
    builds: list[int] = []

    assert (_kept(builds), _kept(builds), len(builds)) == (b"page None", b"page None", 2)


def test_what_is_kept_at_the_current_version_is_read_without_building_it():
    assert node_cache.kept_if_current(key=KEY, version_key=VERSION_KEY) is None  # nothing kept
    _kept([])

    assert node_cache.kept_if_current(key=KEY, version_key=VERSION_KEY) == b"page 1"

    node_cache.next_generation(VERSION_KEY)
    assert node_cache.kept_if_current(key=KEY, version_key=VERSION_KEY) is None
    cache.delete(VERSION_KEY)  # the version lost with the cache: what was kept is not trusted
    assert node_cache.kept_if_current(key=KEY, version_key=VERSION_KEY) is None


def _reads(monkeypatch) -> list:
    """What is read of the cache from now on, one list of keys per round trip."""
    reads: list = []
    get, get_many = cache.get, cache.get_many
    monkeypatch.setattr(cache, "get", lambda key, *a, **k: reads.append([key]) or get(key, *a, **k))
    monkeypatch.setattr(cache, "get_many", lambda keys: reads.append(keys) or get_many(keys))
    return reads


def test_a_held_answer_costs_the_read_of_its_version_only(monkeypatch):
    held = node_cache.HeldCopies(budget=1024)
    _kept([])
    assert node_cache.kept_if_current(key=KEY, version_key=VERSION_KEY, held=held) == b"page 1"
    reads = _reads(monkeypatch)

    assert node_cache.kept_if_current(key=KEY, version_key=VERSION_KEY, held=held) == b"page 1"
    assert reads == [[VERSION_KEY]]


def test_a_held_answer_is_not_served_at_another_version_nor_after_the_caches_copy_expired():
    held = node_cache.HeldCopies(budget=1024)
    _kept([])
    node_cache.kept_if_current(key=KEY, version_key=VERSION_KEY, held=held)

    node_cache.next_generation(VERSION_KEY)
    assert node_cache.kept_if_current(key=KEY, version_key=VERSION_KEY, held=held) is None

    cache.set(VERSION_KEY, 1)
    version, body, _ = held.get(KEY)
    held.hold(KEY, (version, body, time.time() - 1))
    cache.delete(KEY)  # as the cache expires its copy
    assert node_cache.kept_if_current(key=KEY, version_key=VERSION_KEY, held=held) is None


def test_an_answer_kept_without_its_expiry_is_served_but_not_held():
    """As kept before expiries were kept with the answers: for a minute after an upgrade."""
    held = node_cache.HeldCopies(budget=1024)
    cache.set(VERSION_KEY, 1)
    cache.set(KEY, (1, b"page 1"), timeout=60)

    assert node_cache.kept_if_current(key=KEY, version_key=VERSION_KEY, held=held) == b"page 1"
    assert held.get(KEY) is None


def test_held_copies_keep_the_most_recently_served_within_their_budget():
    held = node_cache.HeldCopies(budget=250)
    for name in "abc":
        held.hold(name, (name, b"x" * 100, time.time() + 60))
    assert held.get("a") is None and held.get("b") is not None  # "b" is served: now the newest
    held.hold("d", ("d", b"x" * 100, time.time() + 60))
    assert held.get("c") is None and held.get("b") and held.get("d")
