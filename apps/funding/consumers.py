"""A project's funding progress, live over WebSocket (/ws/projects/<id>/funding/): public data,
so anyone may listen.

The consumer joins the project's group, to which funding services send the new figures after
every commitment's change (progress.py), and sends them on when they differ from what the page
has. An in-process channel layer (the embedded default) carries only what this process sends,
while commitments also change in other processes (another web process, the worker closing a
project at its end date, a command): so the consumer also reads the figures itself every
RECHECK_SECONDS, more often on an in-process layer, and sends them only if they changed.
"""

from __future__ import annotations

import asyncio
import contextlib

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import InMemoryChannelLayer

from . import selectors
from .progress import progress_group

CLOSE_NOT_FOUND = 4404
# Between the consumer's own reads: on an in-process layer, which hears no other process; on a
# shared layer (Redis) only as a safety net for a lost message.
RECHECK_SECONDS = 5.0
SHARED_RECHECK_SECONDS = 60.0


class ProjectFundingConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        self.project_id = self.scope["url_route"]["kwargs"]["pk"]
        figures = await _figures(self.project_id)
        if figures is None:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        self.sent, self.heard = None, 0
        self.group_name = progress_group(self.project_id)
        await self.channel_layer.group_add(self.group_name, self.channel_name)
        await self.accept()
        await self._send(figures)
        self.watcher = asyncio.create_task(self._watch())

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group_name"):
            await self.channel_layer.group_discard(self.group_name, self.channel_name)
        watcher = getattr(self, "watcher", None)
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    async def receive_json(self, content, **kwargs) -> None:
        """The page sends nothing; anything it sends is ignored."""

    async def funding_progress(self, event: dict) -> None:
        self.heard += 1
        await self._send(event["figures"])

    async def _send(self, figures: dict) -> None:
        if figures != self.sent:
            await self.send_json(figures)
            self.sent = figures

    async def _watch(self) -> None:
        in_process = isinstance(self.channel_layer, InMemoryChannelLayer)
        while True:
            await asyncio.sleep(RECHECK_SECONDS if in_process else SHARED_RECHECK_SECONDS)
            heard = self.heard
            figures = await _figures(self.project_id)
            # Figures sent while this read ran may be newer than it: keep those.
            if figures is not None and heard == self.heard:
                await self._send(figures)


@database_sync_to_async
def _figures(project_id) -> dict | None:
    funding = selectors.public_project_funding(pk=project_id)
    return funding.as_json() if funding is not None else None
