"""Live notifications to a signed-in person's open pages, over WebSocket."""

from __future__ import annotations

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from .notifications import user_group

CLOSE_UNAUTHENTICATED = 4401


class NotificationConsumer(AsyncJsonWebsocketConsumer):
    """Joins the person's own group; services send to it with notify_user()."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.group_name = user_group(user.pk)
        await self.channel_layer.group_add(self.group_name, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group_name"):
            await self.channel_layer.group_discard(self.group_name, self.channel_name)

    async def notification_message(self, event: dict) -> None:
        await self.send_json({"kind": event["kind"], "text": event["text"]})
