from __future__ import annotations

from celery import shared_task


@shared_task(bind=True)
def worker_heartbeat_task(self) -> None:
    from .services import worker_heartbeat_record

    worker_heartbeat_record(hostname=self.request.hostname or "unknown")


@shared_task
def node_profile_sync_task() -> bool:
    """Publish the node profile when its name, URL, role, books or trusted issuers changed."""
    from django.conf import settings

    from apps.identity.credential_selectors import trusted_issuer_dids
    from apps.ledger.services import node_profile_sync

    return node_profile_sync(
        name=settings.GROWR_NODE_NAME,
        url=settings.GROWR_PUBLIC_URL,
        role=settings.GROWR_NODE_ROLE,
        trusted_issuers=sorted(trusted_issuer_dids()),
    )
