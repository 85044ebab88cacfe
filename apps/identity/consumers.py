"""Live notifications to a signed-in person's open pages, over WebSocket (/ws/notifications/).

The page says the newest notification id it has seen, as ?after=<id> or as {"after": <id>}
once the socket is open; the consumer sends what is newer, then every new one. Notifications
are rows (notifications.py): the group message services send after commit is the quick path,
and the consumer also reads the rows itself every POLL_SECONDS, because an in-process channel
layer (the embedded default) hears nothing from the worker or another web process; on a shared
layer (Redis) it reads only now and then, for a message lost on the way. Every notification is
sent once per socket, whichever way it came.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import InMemoryChannelLayer
from django.utils import timezone

from . import selectors
from .notifications import user_group
from .serializers import NotificationSerializer

CLOSE_UNAUTHENTICATED = 4401
POLL_SECONDS = 5.0
SHARED_POLL_SECONDS = 60.0
BATCH = 50
# A notification's id is taken when its transaction inserts it, and it becomes visible when
# that commits: a lower id may appear after a higher one. Ids this recent stay remembered one
# by one until no older transaction can still be open.
SETTLE = timedelta(seconds=30)


class NotificationConsumer(AsyncJsonWebsocketConsumer):
    """Joins the person's own group; services send to it with notify_user()."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.user_id = user.pk
        self.group_name = user_group(user.pk)
        # floor: every notification up to this id is sent or was seen by the page already;
        # sent: ids above it sent on this socket.
        self.floor, self.sent = 0, set()
        # One catch-up at a time: a page's new "after" must not race the watcher's floor.
        self.catching_up = asyncio.Lock()
        await self.channel_layer.group_add(self.group_name, self.channel_name)
        await self.accept()
        query = parse_qs(self.scope.get("query_string", b"").decode())
        after = _after(query.get("after", [""])[0])
        if after is None:  # the page says later, or only wants what is new from now on
            self.floor = await database_sync_to_async(_latest)(self.user_id)
        else:
            await self._catch_up(after=after)
        in_process = isinstance(self.channel_layer, InMemoryChannelLayer)
        self.watcher = asyncio.create_task(
            self._watch(POLL_SECONDS if in_process else SHARED_POLL_SECONDS)
        )

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group_name"):
            await self.channel_layer.group_discard(self.group_name, self.channel_name)
        watcher = getattr(self, "watcher", None)
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    async def receive_json(self, content, **kwargs) -> None:
        after = _after(content.get("after") if isinstance(content, dict) else None)
        if after is not None:
            await self._catch_up(after=after)

    async def notification_message(self, event: dict) -> None:
        await self._send(event["notification"])

    async def _send(self, notification: dict) -> None:
        pk = notification["id"]
        if pk <= self.floor or pk in self.sent:
            return
        self.sent.add(pk)
        await self.send_json(notification)

    async def _catch_up(self, *, after: int | None = None) -> None:
        async with self.catching_up:
            if after is not None:  # what the page has seen: the rest is sent again
                self.floor, self.sent = after, set()
            await self._send_unsent()

    async def _send_unsent(self) -> None:
        """Send every notification above the floor not sent yet, then raise the floor over
        those old enough that nothing below them can still appear."""
        after, settled, contiguous = self.floor, self.floor, True
        while True:
            rows = await database_sync_to_async(_batch)(self.user_id, after)
            for notification, old in rows:
                await self._send(notification)
                contiguous = contiguous and old
                if contiguous:
                    settled = notification["id"]
            if len(rows) < BATCH:
                break
            after = rows[-1][0]["id"]
        if settled > self.floor:
            self.floor = settled
            self.sent = {pk for pk in self.sent if pk > settled}

    async def _watch(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            await self._catch_up()


def _after(value: object) -> int | None:
    """A notification id the page sent, or None when it sent none that makes sense."""
    try:
        after = int(str(value))
    except ValueError:
        return None
    return after if 0 <= after < 2**63 else None


def _latest(user_id: int) -> int:
    return selectors.latest_notification_id(user_id=user_id)


def _batch(user_id: int, after: int) -> list[tuple[dict, bool]]:
    """The next BATCH notifications after AFTER, as sent, each with whether it is older than
    SETTLE."""
    horizon = timezone.now() - SETTLE
    return [
        (dict(NotificationSerializer(row).data), row.created_at <= horizon)
        for row in selectors.notifications_after(user_id=user_id, after=after, limit=BATCH)
    ]
