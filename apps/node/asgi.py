"""Django's HTTP handler for the node's ASGI server: the middleware as one sync chain, on a
fixed set of request threads.

Every view and every middleware of the node is synchronous. Django's own ASGIHandler builds an
async chain all the same: each middleware then runs its request and response halves through
`sync_to_async` on its own, and WhiteNoise (sync only) turns back with `async_to_sync`, about
sixteen trips between the event loop and the request's thread for one page. And each request
gets a thread of its own, started for it and joined after it. Here the chain is built as under
WSGI and runs in one trip, and a request borrows one of THREADS long-lived threads for all of
its synchronous work (the chain, and the request_started and request_finished signals, which
must see the same database connection). With every thread busy, a request waits for one in
the event loop, where waiting costs nothing.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.http import HttpRequest, HttpResponseBase


class SyncChainASGIHandler(ASGIHandler):
    def __init__(self, *, threads: int) -> None:
        super().__init__()
        # ASGIHandler loaded the async chain; this replaces it with the synchronous one.
        self.load_middleware(is_async=False)
        self._idle_threads: asyncio.Queue[ThreadPoolExecutor] = asyncio.Queue()
        for number in range(threads):
            thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"request-{number}")
            self._idle_threads.put_nowait(thread)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        thread = await self._idle_threads.get()
        try:
            async with ThreadSensitiveContext(executor=thread):
                await self.handle(scope, receive, send)
        finally:
            self._idle_threads.put_nowait(thread)

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)


def sync_chain_asgi_application() -> SyncChainASGIHandler:
    """get_asgi_application(), with the sync chain on GROWR_WEB_THREADS request threads."""
    import django
    from django.conf import settings

    django.setup(set_prefix=False)
    return SyncChainASGIHandler(threads=settings.GROWR_WEB_THREADS)
