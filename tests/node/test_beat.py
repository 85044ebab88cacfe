"""Every task beat sends is one the worker knows: a misspelt name would only show as nothing
happening (no pruning, no reminders) in production."""

from __future__ import annotations

from celery_worker.app import app
from celery_worker.beat import beat_schedule


def test_every_task_beat_sends_is_registered_with_the_worker():
    app.loader.import_default_modules()  # what a worker does at start: autodiscovery

    sent = {entry["task"] for entry in beat_schedule().values()}

    assert "apps.identity.tasks.notifications_prune_task" in sent
    assert sent - set(app.tasks) == set()
