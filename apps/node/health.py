"""Health of the node's components, as /health/ and the container health check report it.

Each check talks to the real service with a short timeout and never raises: a failure becomes a
component that is down, with the reason.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import caches
from django.db import DatabaseError, connections
from django.utils import timezone
from kombu import Connection
from redis import RedisError

from .cache import ProcessRedisCache
from .models import WorkerHeartbeat

CHECK_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True)
class ComponentHealth:
    ok: bool
    detail: str


@dataclass(frozen=True)
class NodeHealth:
    components: dict[str, ComponentHealth]

    @property
    def ok(self) -> bool:
        return all(component.ok for component in self.components.values())

    def as_dict(self) -> dict:
        return {
            "status": "ok" if self.ok else "unavailable",
            "components": {name: asdict(c) for name, c in self.components.items()},
        }


def database_health(alias: str = "default") -> ComponentHealth:
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        return ComponentHealth(False, f"database query failed: {exc}".strip())
    return ComponentHealth(True, connections[alias].vendor)


def broker_health(url: str | None = None, transport_options: dict | None = None) -> ComponentHealth:
    url = url or settings.CELERY_BROKER_URL
    if transport_options is None:
        transport_options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {})
    if url.startswith("filesystem://"):
        return _file_broker_health(Path(transport_options["data_folder_in"]))
    try:
        with Connection(url, connect_timeout=CHECK_TIMEOUT_SECONDS) as connection:
            connection.ensure_connection(max_retries=1, timeout=CHECK_TIMEOUT_SECONDS)
            transport = connection.transport_cls  # the URL scheme, e.g. "redis"
    except Exception as exc:  # kombu raises library-specific errors for every transport
        return ComponentHealth(False, f"broker unreachable: {exc}")
    return ComponentHealth(True, transport)


def _file_broker_health(queue_dir: Path) -> ComponentHealth:
    if not queue_dir.is_dir() or not os.access(queue_dir, os.W_OK):
        return ComponentHealth(False, f"broker folder {queue_dir} is missing or not writable")
    return ComponentHealth(True, "filesystem")


def channel_layer_health(alias: str = "default") -> ComponentHealth:
    try:
        async_to_sync(_channel_layer_round_trip)(alias)
    except Exception as exc:  # any backend error or the timeout means the layer is unusable
        return ComponentHealth(False, f"channel layer round trip failed: {exc!r}")
    return ComponentHealth(True, settings.CHANNEL_LAYERS[alias]["BACKEND"].rsplit(".", 1)[-1])


async def _channel_layer_round_trip(alias: str) -> None:
    layer = get_channel_layer(alias)
    channel = await layer.new_channel("health.")
    token = uuid.uuid4().hex
    await asyncio.wait_for(
        layer.send(channel, {"type": "health.ping", "token": token}), CHECK_TIMEOUT_SECONDS
    )
    message = await asyncio.wait_for(layer.receive(channel), CHECK_TIMEOUT_SECONDS)
    if message.get("token") != token:
        raise RuntimeError("received a different message than the one sent")


def cache_health(alias: str = "default") -> ComponentHealth:
    """The node answers without its cache (apps/node/cache.py), slower: this says whether it
    has one."""
    backend = caches[alias]
    if not isinstance(backend, ProcessRedisCache):
        return ComponentHealth(True, type(backend).__name__)
    try:
        backend.ping()
    except RedisError as exc:
        return ComponentHealth(False, f"cache unreachable: {exc}")
    return ComponentHealth(True, "redis")


def worker_health(max_age: timedelta | None = None) -> ComponentHealth:
    max_age = max_age or settings.GROWR_WORKER_HEARTBEAT_MAX_AGE
    try:
        latest = WorkerHeartbeat.objects.order_by("-beat_at").first()
    except DatabaseError as exc:
        return ComponentHealth(False, f"cannot read worker heartbeats: {exc}")
    if latest is None:
        return ComponentHealth(False, "no worker has reported yet")
    age = timezone.now() - latest.beat_at
    if age > max_age:
        return ComponentHealth(False, f"last heartbeat {int(age.total_seconds())}s ago")
    return ComponentHealth(True, f"{latest.hostname}, {int(age.total_seconds())}s ago")


def node_health() -> NodeHealth:
    return NodeHealth(
        components={
            "database": database_health(),
            "broker": broker_health(),
            "channel_layer": channel_layer_health(),
            "cache": cache_health(),
            "worker": worker_health(),
        }
    )
