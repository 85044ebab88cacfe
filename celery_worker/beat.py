"""Periodic tasks that Celery beat sends (one beat process per node)."""

from __future__ import annotations

from django.conf import settings


def beat_schedule() -> dict:
    interval = settings.GROWR_WORKER_HEARTBEAT_INTERVAL.total_seconds()
    return {
        "worker-heartbeat": {
            "task": "apps.node.tasks.worker_heartbeat_task",
            "schedule": interval,
            # A heartbeat that waited longer than its interval says nothing about the worker now.
            "options": {"expires": interval},
        },
        "ledger-node-profile": {
            "task": "apps.node.tasks.node_profile_sync_task",
            "schedule": 60.0,
        },
        "ledger-follows-poll": {
            "task": "apps.ledger.tasks.follows_poll_task",
            "schedule": settings.GROWR_FOLLOW_POLL_INTERVAL.total_seconds(),
        },
        "ledger-outbox-sweep": {
            "task": "apps.ledger.tasks.outbox_sweep_task",
            "schedule": settings.GROWR_OUTBOX_SWEEP_INTERVAL.total_seconds(),
        },
        # Daily; run hourly so a missed night (a stopped beat) costs hours, not a day. Both are
        # idempotent: a bucket is set, a reminder is sent once.
        "loans-arrears": {
            "task": "apps.applications.tasks.loans_arrears_update_task",
            "schedule": 3600.0,
        },
        "loans-reminders": {
            "task": "apps.applications.tasks.reminders_send_task",
            "schedule": 3600.0,
        },
        "projects-close-ended": {
            "task": "apps.projects.tasks.projects_close_ended_task",
            "schedule": 3600.0,
        },
        "notifications-prune": {
            "task": "apps.identity.tasks.notifications_prune_task",
            "schedule": 86400.0,
        },
    }
