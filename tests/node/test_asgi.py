"""The web server's HTTP handler (apps/node/asgi.py): Django's middleware as one synchronous
chain, run on a fixed set of request threads. Juma signs in and opens his dashboard through the
ASGI application exactly as uvicorn calls it; a crowd of requests at once is answered in full by
no more threads than the node is given; a request crosses to its thread once."""

from __future__ import annotations

import asyncio
import threading
from http.cookies import SimpleCookie
from unittest import mock
from urllib.parse import urlencode

import pytest
from asgiref.sync import async_to_sync, iscoroutinefunction, sync_to_async
from asgiref.testing import ApplicationCommunicator
from django.core.signals import request_finished, request_started
from django.http import StreamingHttpResponse

from apps.node.asgi import RequestThreads, SyncChainASGIHandler
from growr_site.asgi import application
from tests.factories import PASSWORD


async def _ask(
    app,
    method: str,
    path: str,
    *,
    body: bytes = b"",
    headers=(),
    host: bytes = b"127.0.0.1",
    query: bytes = b"",
) -> tuple:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", host), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    communicator = ApplicationCommunicator(app, scope)
    await communicator.send_input({"type": "http.request", "body": body, "more_body": False})
    start = await communicator.receive_output(timeout=10)
    content = b""
    while True:
        message = await communicator.receive_output(timeout=10)
        content += message.get("body", b"")
        if not message.get("more_body"):
            break
    await communicator.wait(timeout=10)
    headers = {name.lower(): value for name, value in start["headers"]}
    return start["status"], headers, start["headers"], content.decode()


def _cookies(raw_headers, jar: SimpleCookie) -> SimpleCookie:
    for name, value in raw_headers:
        if name.lower() == b"set-cookie":
            jar.load(value.decode())
    return jar


def _cookie_header(jar: SimpleCookie) -> tuple[bytes, bytes]:
    return b"cookie", "; ".join(f"{k}={m.value}" for k, m in jar.items()).encode()


def test_the_middleware_runs_as_one_synchronous_chain():
    handler = application.application_mapping["http"]

    assert isinstance(handler, SyncChainASGIHandler)
    assert not iscoroutinefunction(handler._middleware_chain)


@pytest.mark.django_db(transaction=True)
async def test_juma_signs_in_and_opens_his_dashboard_through_the_asgi_application(juma):
    status, headers, raw, page = await _ask(application, "GET", "/accounts/login/")
    assert status == 200 and b"content-security-policy" in headers
    jar = _cookies(raw, SimpleCookie())
    form = {
        "username": juma.email,
        "password": PASSWORD,
        "csrfmiddlewaretoken": jar["csrftoken"].value,
    }
    status, headers, raw, _ = await _ask(
        application,
        "POST",
        "/accounts/login/",
        body=urlencode(form).encode(),
        headers=[
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"referer", b"http://127.0.0.1/accounts/login/"),
            _cookie_header(jar),
        ],
    )
    assert status == 302, "the sign-in was refused"
    jar = _cookies(raw, jar)

    status, _, _, page = await _ask(application, "GET", "/staff/", headers=[_cookie_header(jar)])

    assert status == 200 and "<title>Dashboard · Kijani Microfinance" in page


@pytest.mark.django_db(transaction=True)
async def test_a_request_without_its_csrf_token_is_refused_by_the_chain(juma):
    status, _, _, _ = await _ask(
        application,
        "POST",
        "/accounts/login/",
        body=urlencode({"username": juma.email, "password": PASSWORD}).encode(),
        headers=[(b"content-type", b"application/x-www-form-urlencoded")],
    )

    assert status == 403


@pytest.mark.django_db(transaction=True)
async def test_a_crowd_of_requests_is_served_by_the_given_threads_only():
    handler = SyncChainASGIHandler(threads=2)
    chain = handler._middleware_chain
    running, most_at_once, threads = 0, 0, set()
    lock = threading.Lock()

    def slow_chain(request):
        nonlocal running, most_at_once
        with lock:
            running += 1
            most_at_once = max(most_at_once, running)
            threads.add(threading.current_thread().name)
        try:
            threading.Event().wait(0.05)  # long enough for the others to pile up
            return chain(request)
        finally:
            with lock:
                running -= 1

    handler._middleware_chain = slow_chain

    answers = await asyncio.gather(*(_ask(handler, "GET", "/accounts/login/") for _ in range(8)))

    assert [status for status, *_ in answers] == [200] * 8
    assert most_at_once == 2
    assert len(threads) == 2 and all(name.startswith("request-") for name in threads)


async def test_threads_are_lent_in_the_order_they_were_asked_for():
    """A thread given back goes to the request that waited longest, even where another asks
    before that one's turn comes round (asyncio.Queue hands it to the newcomer)."""
    threads = RequestThreads(["the only thread"])
    first = await threads.borrow()
    waited_longest = asyncio.ensure_future(threads.borrow())
    waited_next = asyncio.ensure_future(threads.borrow())
    await asyncio.sleep(0)  # both now wait

    threads.give_back(first)
    newcomer = asyncio.ensure_future(threads.borrow())  # asks before the waiter runs again
    await asyncio.sleep(0)

    assert waited_longest.done() and not waited_next.done() and not newcomer.done()
    threads.give_back(await waited_longest)
    await asyncio.sleep(0)
    assert waited_next.done() and not newcomer.done()
    threads.give_back(await waited_next)
    assert await newcomer == "the only thread"


async def test_a_request_cancelled_as_it_was_lent_a_thread_gives_it_back():
    threads = RequestThreads(["the only thread"])
    first = await threads.borrow()
    cancelled = asyncio.ensure_future(threads.borrow())
    await asyncio.sleep(0)

    threads.give_back(first)  # lent to the waiter, which is cancelled before it runs
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled

    assert await asyncio.wait_for(threads.borrow(), timeout=1) == "the only thread"


@pytest.mark.django_db(transaction=True)
async def test_a_request_that_crosses_into_async_and_back_keeps_its_thread():
    """The live notifications and the health check's channel-layer round trip call async code
    from a request (async_to_sync); what that code runs synchronously again must come back to
    the request's own thread, not wait for it (a deadlock) nor run on another."""
    handler = SyncChainASGIHandler(threads=1)
    chain = handler._middleware_chain
    threads = []

    async def through_the_event_loop() -> None:
        await sync_to_async(lambda: threads.append(threading.current_thread().name))()

    def bridging_chain(request):
        threads.append(threading.current_thread().name)
        async_to_sync(through_the_event_loop)()
        return chain(request)

    handler._middleware_chain = bridging_chain

    status, *_ = await _ask(handler, "GET", "/accounts/login/")

    assert status == 200 and threads == ["request-0_0", "request-0_0"]


@pytest.mark.django_db(transaction=True)
async def test_a_request_crosses_to_its_thread_once_with_both_signals_there():
    """request_started, the chain and request_finished in one trip, on one thread: the database
    connection the request used is the one request_finished hands back."""
    handler = SyncChainASGIHandler(threads=1)
    seen = []

    def started(**kwargs):
        seen.append(("started", threading.current_thread().name))

    def finished(**kwargs):
        seen.append(("finished", threading.current_thread().name))

    (thread,) = handler._threads._idle
    request_started.connect(started)
    request_finished.connect(finished)
    try:
        with mock.patch.object(thread, "submit", wraps=thread.submit) as trips:
            status, *_ = await _ask(handler, "GET", "/accounts/login/")
    finally:
        request_started.disconnect(started)
        request_finished.disconnect(finished)

    assert status == 200 and trips.call_count == 1
    assert seen == [("started", "request-0_0"), ("finished", "request-0_0")]


# Django reads a synchronous iterator whole for an ASGI server, and says so.
@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous iterators")
@pytest.mark.django_db(transaction=True)
async def test_a_streaming_answer_is_made_on_the_request_thread_and_closed_after_it_is_sent():
    handler = SyncChainASGIHandler(threads=1)
    events = []

    def parts():
        for part in ("one,", "two"):
            events.append((part, threading.current_thread().name))
            yield part

    def finished(**kwargs):
        events.append(("finished", threading.current_thread().name))

    handler._middleware_chain = lambda request: StreamingHttpResponse(parts())
    request_finished.connect(finished)
    try:
        status, _, _, content = await _ask(handler, "GET", "/anything/")
    finally:
        request_finished.disconnect(finished)

    assert status == 200 and content == "one,two"
    assert events == [
        ("one,", "request-0_0"),
        ("two", "request-0_0"),
        ("finished", "request-0_0"),
    ]
