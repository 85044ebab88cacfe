"""Live updates of the Network page over WebSocket.

The agent may run in another process (the worker, `manage.py gossip`) and the embedded default
has no shared channel layer, so the consumer watches the peer table itself: every few seconds
it renders the page's live part and sends it only if it changed. One small query set per open
page every POLL_SECONDS, whatever the number of peers' updates in between.
"""

from __future__ import annotations

import asyncio
import contextlib

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from apps.identity.permissions import PORTAL_ROLES, has_role, node_serves

from .live import network_live_update

CLOSE_FORBIDDEN = 4403
POLL_SECONDS = 2.0


class NetworkConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        user = self.scope.get("user")
        if not node_serves("staff") or not has_role(user, PORTAL_ROLES["staff"]):
            await self.close(code=CLOSE_FORBIDDEN)
            return
        await self.accept()
        self.watcher = asyncio.create_task(self._watch())

    async def disconnect(self, code: int) -> None:
        watcher = getattr(self, "watcher", None)
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    async def receive_json(self, content, **kwargs) -> None:
        """The page sends nothing; anything it sends is ignored."""

    async def _watch(self) -> None:
        sent = None
        while True:
            update = await database_sync_to_async(network_live_update)()
            if update != sent:
                await self.send_json(update)
                sent = update
            await asyncio.sleep(POLL_SECONDS)
