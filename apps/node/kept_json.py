"""A public JSON answer of DRF's, answered from the cache before DRF while it is current.

DRF's request, content negotiation and checks were 64 of the 157 µs of CPU that a kept page of
the open projects API took in process, and the books' read API paid them too, for answers that
were already kept. A view with this mixin first looks for the answer that kept_at_version keeps
for the request (under its `kept_json_key`, at the version the cache holds under its
`kept_json_version_key`), and answers it as DRF would; anything else, a miss included, goes
through DRF, which builds the answer and keeps it.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable
from dataclasses import dataclass

from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse, HttpResponseBase

from .asgi import scope_address, scope_headers
from .cache import HeldCopies, kept_if_current

# This process's copies of the answers it served last (the open projects API's are 42 kB): while
# current, the cache sends their version only.
held_answers = HeldCopies(budget=16 * 1024 * 1024)


class KeptJsonBeforeDrf:
    """For a DRF view whose JSON answers to GET are kept with kept_at_version for everyone alike
    (no authentication: who asks is never looked up). The view gives `kept_json_key`, a class
    method from the request to the key its answer is kept under, and `kept_json_version_key`,
    where the cache holds the version it is kept at."""

    kept_json_version_key: str
    kept_json_key: Callable[[HttpRequest], str]

    @classmethod
    def as_view(cls, **initkwargs):
        # Checked as the URL map is built, not at the first request.
        missing = [
            name
            for name in ("kept_json_key", "kept_json_version_key")
            if getattr(cls, name, None) is None
        ]
        if missing:
            raise TypeError(f"{cls.__name__} keeps JSON before DRF, but gives no {missing}")
        view = super().as_view(**initkwargs)
        probe = cls(**initkwargs)
        probe.setup(None)  # as Django's view does: a view that answers GET answers HEAD
        allow = ", ".join(probe.allowed_methods)

        def kept_or_view(request, *args, **kwargs):
            if asks_for_plain_json(request):
                body = kept_if_current(
                    key=cls.kept_json_key(request),
                    version_key=cls.kept_json_version_key,
                    held=held_answers,
                )
                if body is not None:
                    # As DRF answers: its headers, and no other (no cookie, no session read).
                    response = HttpResponse(body, content_type="application/json")
                    response["Allow"] = allow
                    response["Vary"] = "Accept"
                    response.kept_json_view = cls  # for the front (KeptJsonFront.learn)
                    return response
            return view(request, *args, **kwargs)

        # The schema and the CSRF middleware read what DRF's view carries (cls, csrf_exempt).
        return functools.wraps(view)(kept_or_view)


def asks_for_plain_json(request: HttpRequest) -> bool:
    """Whether DRF would answer REQUEST with JSON, told without DRF: a GET that names no format
    and accepts JSON or anything. A browser (text/html first) gets DRF's browsable page."""
    accept = request.headers.get("Accept", "*/*")
    return (
        request.method == "GET"
        and "format" not in request.GET
        and accept in ("*/*", "application/json")
    )


# --- Kept answers given before Django's middleware (apps.node.asgi.SyncChainASGIHandler) -------
#
# With the answer kept and held, the middleware, the URL map and the request around it were most
# of what a kept answer cost. An address this process answered from its kept copy, for a request
# with no cookie, is answered again before all that, on the same terms: the view's own key for
# the request (kept_json_key, on a request made from the same scope), at the version the cache
# holds (kept_if_current), for a request that the middleware decided on alike (method, scheme,
# host, a proxy's word on them, Accept), with the headers the middleware gave that answer. A
# request with a cookie goes through Django: what a cookie may change there is not looked at.

# The headers of a request the middleware's answer to a kept one follows from.
_DECISIVE = (b"accept", b"host", b"x-forwarded-host", b"x-forwarded-proto")


@dataclass(frozen=True)
class _FrontAnswer:
    view: type[KeptJsonBeforeDrf]
    signature: tuple
    headers: tuple[tuple[str, str], ...]


class KeptJsonFront:
    """Kept JSON answers (KeptJsonBeforeDrf) given before Django (apps.node.asgi), by address,
    where the middleware gave one from its kept copy to a request with no cookie."""

    # Addresses a process answers from: every page of the open projects and every block range
    # readers ask for on a busy node; past it the table is emptied (a miss costs Django's path).
    ADDRESSES = 10_000

    def __init__(self) -> None:
        self.addresses: dict[str, _FrontAnswer] = {}

    def learn(self, request: HttpRequest, response: HttpResponseBase) -> None:
        view = getattr(response, "kept_json_view", None)
        if view is None or response.cookies or response.status_code != 200:
            return
        scope = getattr(request, "scope", None)
        if scope is None or _signature(scope) is None:
            return
        headers = tuple(
            (name, value) for name, value in response.items() if name != "Content-Length"
        )
        if len(self.addresses) >= self.ADDRESSES:
            self.addresses.clear()
        self.addresses[scope_address(scope)] = _FrontAnswer(view, _signature(scope), headers)

    def answer(self, scope: dict) -> HttpResponse | None:
        known = self.addresses.get(scope_address(scope))
        if known is None or _signature(scope) != known.signature:
            return None
        body = kept_if_current(
            key=known.view.kept_json_key(ASGIRequest(scope, io.BytesIO())),
            version_key=known.view.kept_json_version_key,
            held=held_answers,
        )
        if body is None:
            return None
        response = HttpResponse(body)
        for name, value in known.headers:
            response[name] = value
        response["Content-Length"] = str(len(body))
        return response


def _signature(scope: dict) -> tuple | None:
    """What the middleware decided a kept answer on, for a GET with no cookie; None for any
    other request."""
    if scope["method"] != "GET" or scope_headers(scope, (b"cookie",)):
        return None
    return (scope.get("scheme"), *scope_headers(scope, _DECISIVE))


front = KeptJsonFront()
