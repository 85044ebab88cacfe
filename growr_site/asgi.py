"""ASGI entry point: HTTP through Django, WebSocket through Channels."""

import gc
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "growr_site.settings.local")
from apps.node.asgi import sync_chain_asgi_application

# Build the Django app first: it populates the app registry that consumers' imports need.
django_asgi_app = sync_chain_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from growr_site.websocket_urls import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)

# What loading made lives as long as the process: full collections no longer walk it. Under wrk
# that cut the p99 of the trivial view and the read APIs by a third to a half (docs/benchmarks.md).
gc.freeze()
