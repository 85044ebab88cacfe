"""Receivers of other apps' signals. Thin: services do the work."""

from __future__ import annotations

from apps.node.cache import next_generation_now_and_after_commit

from .credential_services import status_lists_seen_record
from .models import User
from .person_keys import user_generation_key


def status_lists_indexed(sender, *, log_id: int, rows, **kwargs) -> None:
    status_lists_seen_record(log_id=log_id, rows=rows)


def user_changed(sender, *, instance, **kwargs) -> None:
    """A user was saved or deleted: the next request reads them again (middleware.py)."""
    next_generation_now_and_after_commit(user_generation_key(instance.pk))


def organization_changed(sender, *, instance, **kwargs) -> None:
    """An organization was saved or deleted: its members, kept with it, are read again."""
    for user_id in User.objects.filter(organization_id=instance.pk).values_list("pk", flat=True):
        next_generation_now_and_after_commit(user_generation_key(user_id))
