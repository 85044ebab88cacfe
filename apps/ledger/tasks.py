from __future__ import annotations

from celery import shared_task


@shared_task
def outbox_flush_task(book: str) -> int:
    from .services import outbox_flush

    return outbox_flush(book=book)


@shared_task
def outbox_sweep_task() -> int:
    """Append what a lost flush left behind (a worker that died after the commit, say)."""
    from .selectors import books_with_pending_entries
    from .services import outbox_flush

    return sum(outbox_flush(book=book) for book in books_with_pending_entries())


@shared_task
def node_profile_sync_task() -> bool:
    from django.conf import settings

    from .services import node_profile_sync

    return node_profile_sync(
        name=settings.GROWR_NODE_NAME,
        url=settings.GROWR_PUBLIC_URL,
        role=settings.GROWR_NODE_ROLE,
        trusted_issuers=settings.GROWR_TRUSTED_ISSUERS,
    )
