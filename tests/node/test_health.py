"""/health/ reports every component against the real services, and 503 when one is down."""

from __future__ import annotations

import socket
from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from apps.node.health import broker_health, cache_health, channel_layer_health
from apps.node.models import WorkerHeartbeat
from apps.node.services import worker_heartbeat_record
from celery_worker.app import ensure_file_broker_folders


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def file_broker(settings):
    """The embedded broker's folders exist once a worker or a task sender has started."""
    ensure_file_broker_folders(getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}))


def test_a_healthy_node_reports_every_component_ok(client, db, file_broker):
    worker_heartbeat_record(hostname="celery@test")

    response = client.get("/health/")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["components"]) == {"database", "broker", "channel_layer", "cache", "worker"}
    assert all(component["ok"] for component in body["components"].values())


def test_no_worker_heartbeat_means_unavailable(client, db, file_broker):
    response = client.get("/health/")

    assert response.status_code == 503
    assert response.json()["components"]["worker"] == {
        "ok": False,
        "detail": "no worker has reported yet",
    }


def test_a_stale_heartbeat_means_the_worker_is_down(client, db, file_broker):
    WorkerHeartbeat.objects.create(
        hostname="celery@old", beat_at=timezone.now() - timedelta(minutes=5)
    )

    response = client.get("/health/")

    assert response.status_code == 503
    assert "last heartbeat 300s ago" in response.json()["components"]["worker"]["detail"]


def test_an_unreachable_redis_broker_is_reported_down(db):
    health = broker_health(f"redis://127.0.0.1:{_closed_port()}/0", {})

    assert not health.ok
    assert "broker unreachable" in health.detail


def test_an_unreachable_cache_is_reported_down(redis_out_of_reach):
    health = cache_health()

    assert not health.ok
    assert "cache unreachable" in health.detail


def test_a_missing_file_broker_folder_is_reported_down(tmp_path):
    health = broker_health("filesystem://", {"data_folder_in": str(tmp_path / "absent")})

    assert not health.ok
    assert "missing or not writable" in health.detail


def test_an_unreachable_redis_channel_layer_is_reported_down(db):
    layers = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [f"redis://127.0.0.1:{_closed_port()}/0"]},
        }
    }
    with override_settings(CHANNEL_LAYERS=layers):
        health = channel_layer_health()

    assert not health.ok
    assert "channel layer round trip failed" in health.detail


def test_health_with_a_down_broker_answers_503_json(client, db, settings):
    worker_heartbeat_record(hostname="celery@test")
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{_closed_port()}/0"

    response = client.get("/health/")

    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert response.json()["components"]["broker"]["ok"] is False
