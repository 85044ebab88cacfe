from __future__ import annotations

from celery import shared_task


@shared_task
def outbox_flush_task(*books: str) -> int:
    from .services import outbox_flush

    return sum(outbox_flush(book=book) for book in books)


@shared_task
def outbox_sweep_task() -> int:
    """Append what a lost flush left behind (a worker that died after the commit, say)."""
    from .selectors import books_with_pending_entries
    from .services import outbox_flush

    return sum(outbox_flush(book=book) for book in books_with_pending_entries())


@shared_task
def follow_pull_task(follow_id: int) -> int:
    from .follow_services import follow_pull

    stored = follow_pull(follow_id=follow_id).stored
    if stored:
        follow_index_task.delay(follow_id)
    return stored


@shared_task
def follow_index_task(follow_id: int) -> int:
    from .follow_services import follow_index

    return follow_index(follow_id=follow_id)


@shared_task
def follows_poll_task() -> int:
    """Ask every active follow's sources for new blocks (the fallback to near-live news)."""
    from .selectors import follows_to_poll

    follow_ids = follows_to_poll()
    for follow_id in follow_ids:
        # Expires with the next poll: a pull that waited that long is already superseded.
        follow_pull_task.apply_async((follow_id,), expires=_poll_interval())
    return len(follow_ids)


def _poll_interval() -> float:
    from django.conf import settings

    return settings.GROWR_FOLLOW_POLL_INTERVAL.total_seconds()
