"""Notifying a person: the notification is kept in the database, then sent live to everything
they have open (see consumers.py). The row is the truth; the live message only makes it quick.
A socket in another process, or one that was down, finds the row by itself."""

from __future__ import annotations

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import IntegrityError, transaction

from apps.node.cache import next_generation_now_and_after_commit

from .models import Notification
from .selectors import bell_generation_key
from .serializers import NotificationSerializer

TEXT_LENGTH = Notification._meta.get_field("text").max_length


def user_group(user_id: int) -> str:
    return f"user-{user_id}"


def notify_user(
    *, user_id: int, kind: str, text: str, link: str | None = None, dedupe_key: str = ""
) -> Notification | None:
    """Keep a notification for USER_ID in the caller's transaction and send it to their open
    pages once that commits, so no one hears of a rolled-back change. With DEDUPE_KEY, news
    already kept under the same key is not kept again (None is returned)."""
    fields = {
        "user_id": user_id,
        "kind": kind,
        "text": text[:TEXT_LENGTH],
        "link": link or "",
        "dedupe_key": dedupe_key,
    }
    if dedupe_key:
        if Notification.objects.filter(user_id=user_id, dedupe_key=dedupe_key).exists():
            return None
        try:
            with transaction.atomic():
                notification = Notification.objects.create(**fields)
        except IntegrityError:  # kept a moment ago by a concurrent caller
            return None
    else:
        notification = Notification.objects.create(**fields)
    bell_changed(user_id=user_id)
    message = {
        "type": "notification.message",
        "notification": dict(NotificationSerializer(notification).data),
    }
    # A lost live message is found by the sockets' own reads: it never undoes the change. A
    # lambda, since Django names a failed robust callback by its __qualname__ (a partial has none).
    transaction.on_commit(lambda: _send(user_group(user_id), message), robust=True)
    return notification


def bell_changed(*, user_id: int) -> None:
    """USER_ID's notifications changed: their bell is read again (selectors.notification_bell)."""
    next_generation_now_and_after_commit(bell_generation_key(user_id))


def _send(group: str, message: dict) -> None:
    async_to_sync(get_channel_layer().group_send)(group, message)
