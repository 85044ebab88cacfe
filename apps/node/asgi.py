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

Django's handle() also crosses to a thread three times for every request: for the request_started
signal, for the chain, and for response.close() (the request_finished signal) after sending.
Here one trip does all three for a response whose content is already in memory, which is sent
after; a streaming response is closed after it is sent, as Django does. A request whose client
went away is not cancelled: its synchronous work cannot be interrupted anyway, and its thread
must not be lent to the next request while still at it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.http import FileResponse, HttpRequest, HttpResponseBase
from django.urls import set_script_prefix


class FrontAnswers(Protocol):
    """Answers given before Django's request cycle (kept_pages.KeptPagesFront,
    kept_json.KeptJsonFront): learnt from the answers the middleware gave, and given again while
    what they rest on holds."""

    def answer(self, scope: dict) -> HttpResponseBase | None: ...

    def learn(self, request: HttpRequest, response: HttpResponseBase) -> None: ...


def scope_address(scope: dict) -> str:
    """The full address a request of SCOPE asks for (script prefix, path, query), for a front
    to hold its answers by."""
    query = scope["query_string"].decode("latin-1")
    return f"{scope.get('root_path', '')}{scope['path']}?{query}"


def scope_headers(scope: dict, names: tuple[bytes, ...]) -> list[tuple[bytes, bytes]]:
    """The headers of SCOPE named NAMES (lower case, as ASGI gives them), in their order."""
    return [(name, value) for name, value in scope["headers"] if name in names]


class SyncChainASGIHandler(ASGIHandler):
    def __init__(self, *, threads: int, fronts: Sequence[FrontAnswers] = ()) -> None:
        super().__init__()
        self.fronts = fronts
        # ASGIHandler loaded the async chain; this replaces it with the synchronous one.
        self.load_middleware(is_async=False)
        self._threads = RequestThreads(
            ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"request-{number}")
            for number in range(threads)
        )

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        await self.handle(scope, receive, send)

    async def handle(self, scope, receive, send) -> None:
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        set_script_prefix(get_script_prefix(scope))
        try:
            # The thread is lent for the synchronous work only, not while the body arrives or
            # the answer leaves, unless the answer is made as it leaves (a streaming one).
            thread = await self._threads.borrow()
            try:
                async with ThreadSensitiveContext(executor=thread):
                    response = await sync_to_async(self._respond, thread_sensitive=True)(
                        scope, body_file
                    )
                    if response.streaming:
                        await self._send_streaming(response, send)
            finally:
                self._threads.give_back(thread)
            if not response.streaming:
                await self.send_response(response, send)
        finally:
            body_file.close()

    async def _send_streaming(self, response: HttpResponseBase, send) -> None:
        try:
            await self.send_response(response, send)
        finally:
            await sync_to_async(response.close, thread_sensitive=True)()

    def _respond(self, scope, body_file) -> HttpResponseBase:
        for front in self.fronts:
            # No request cycle: nothing of Django's ran, nor needs closing (the database).
            response = front.answer(scope)
            if response is not None:
                return response
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, response = self.create_request(scope, body_file)
        if request is not None:
            response = self.get_response(request)
            for front in self.fronts:
                front.learn(request, response)
            response._handler_class = self.__class__
            if isinstance(response, FileResponse):
                response.block_size = self.chunk_size
        if not response.streaming:
            response.close()  # request_finished: the content is in memory, sent after this
        return response


class RequestThreads:
    """The request threads of a process, lent to the requests waiting for one in the order they
    came. asyncio.Queue is not fair that way: a waiter woken for a thread given back runs a step
    later, and a request that asks in between takes the thread, sending the waiter to the back
    of the line, where it may lose its turn again."""

    def __init__(self, threads: Iterable[ThreadPoolExecutor]) -> None:
        self._idle = deque(threads)
        self._waiting: deque[asyncio.Future[ThreadPoolExecutor]] = deque()

    async def borrow(self) -> ThreadPoolExecutor:
        if self._idle and not self._waiting:
            return self._idle.popleft()
        turn = asyncio.get_running_loop().create_future()
        self._waiting.append(turn)
        try:
            return await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():  # lent as this was cancelled: not taken
                self.give_back(turn.result())
            raise

    def give_back(self, thread: ThreadPoolExecutor) -> None:
        while self._waiting:
            turn = self._waiting.popleft()
            if not turn.done():
                turn.set_result(thread)
                return
        self._idle.append(thread)


def sync_chain_asgi_application() -> SyncChainASGIHandler:
    """get_asgi_application(), with the sync chain on GROWR_WEB_THREADS request threads, and
    the kept pages and kept JSON answers given before it (kept_pages.front, kept_json.front)."""
    import django
    from django.conf import settings

    django.setup(set_prefix=False)
    from apps.identity import kept_pages

    from . import kept_json

    return SyncChainASGIHandler(
        threads=settings.GROWR_WEB_THREADS, fronts=(kept_pages.front, kept_json.front)
    )
