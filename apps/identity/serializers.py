"""The shape of a notification, the same over the API and the WebSocket."""

from __future__ import annotations

from rest_framework import serializers

from .models import Notification


class NotificationSerializer(serializers.ModelSerializer):
    link = serializers.CharField(help_text='A page of this node to open, or "".')

    class Meta:
        model = Notification
        fields = ["id", "kind", "text", "link", "created_at", "read_at"]
        read_only_fields = fields


class NotificationListSerializer(serializers.Serializer):
    results = NotificationSerializer(many=True, help_text="Oldest first.")
    more = serializers.BooleanField(
        help_text="Whether newer ones are left: ask again with after= the last id here."
    )
    unread = serializers.IntegerField(help_text="How many of all of yours are unread.")
