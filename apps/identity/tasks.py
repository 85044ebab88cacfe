"""Identity housekeeping (beat)."""

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from . import services


@shared_task(ignore_result=True)
def notifications_prune_task() -> int:
    return services.notifications_prune(
        read_before=timezone.now() - settings.GROWR_NOTIFICATIONS_KEEP_READ
    )
