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
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

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
