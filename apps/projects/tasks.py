from __future__ import annotations

from celery import shared_task


@shared_task
def projects_close_ended_task() -> int:
    """Close the projects whose application period ended (beat, hourly)."""
    from .services import projects_close_ended

    return projects_close_ended()
