"""WebSocket routes of the node (served by growr_site.asgi)."""

from django.urls import path

from apps.discovery.consumers import NetworkConsumer
from apps.funding.consumers import ProjectFundingConsumer
from apps.identity.consumers import NotificationConsumer

websocket_urlpatterns = [
    path("ws/notifications/", NotificationConsumer.as_asgi()),
    path("ws/network/", NetworkConsumer.as_asgi()),
    path("ws/projects/<uuid:pk>/funding/", ProjectFundingConsumer.as_asgi()),
]
