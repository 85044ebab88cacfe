"""The Celery application, configured from Django settings (every CELERY_* setting)."""

from __future__ import annotations

import os
from pathlib import Path

from celery import Celery
from celery.signals import worker_ready

from .beat import beat_schedule
from .discovery import DiscoveryAgentStep

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "growr_site.settings.local")

app = Celery("growr")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.steps["worker"].add(DiscoveryAgentStep)


@app.on_after_configure.connect
def _install_beat_schedule(sender: Celery, **kwargs) -> None:
    # Deferred until Celery first reads its configuration, when Django settings are ready.
    sender.conf.beat_schedule = beat_schedule()
    ensure_file_broker_folders(sender.conf.broker_transport_options or {})


def ensure_file_broker_folders(transport_options: dict) -> None:
    # kombu's filesystem transport expects its folders to exist (embedded default only).
    for key in ("data_folder_in", "data_folder_out", "control_folder"):
        if key in transport_options:
            Path(transport_options[key]).mkdir(parents=True, exist_ok=True)


@worker_ready.connect
def _announce_worker(sender, **kwargs) -> None:
    # A heartbeat sent through the broker at start-up turns /health/ green without waiting
    # for beat's first tick, and still proves the broker -> worker path.
    from apps.node.tasks import node_profile_sync_task, worker_heartbeat_task

    worker_heartbeat_task.delay()
    # The books and the node profile exist from the first start, not a minute later.
    node_profile_sync_task.delay()
