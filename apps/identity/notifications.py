"""Sending a live notification to everything a person has open (see consumers.py)."""

from __future__ import annotations

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction


def user_group(user_id: int) -> str:
    return f"user-{user_id}"


def notify_user(*, user_id: int, kind: str, text: str) -> None:
    """Send after the surrounding transaction commits, so no one hears of a rolled-back change."""

    def send() -> None:
        async_to_sync(get_channel_layer().group_send)(
            user_group(user_id), {"type": "notification.message", "kind": kind, "text": text}
        )

    transaction.on_commit(send)
