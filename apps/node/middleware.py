"""The Content-Security-Policy header (Django 5.2 has none of its own).

Pages load scripts, styles and images from this node only, and no page runs inline script or
style, so an injected `<script>` or `style=` does nothing. The browser opens WebSockets only to
this node (the live notifications and funding figures): `'self'` does not cover ws:/wss: in
every browser, so the host is named with both schemes.
"""

from __future__ import annotations

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse

HEADER = "Content-Security-Policy"

POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "connect-src": "'self'",
    "frame-ancestors": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "object-src": "'none'",
}


def policy_for(request: HttpRequest) -> str:
    policy = dict(POLICY)
    try:
        host = request.get_host()
    except DisallowedHost:  # the answer is the 400 for that: no socket to allow
        host = None
    if host:
        policy["connect-src"] = f"'self' ws://{host} wss://{host}"
    return "; ".join(f"{directive} {sources}" for directive, sources in policy.items())


class ContentSecurityPolicyMiddleware:
    """Adds the policy to every response that has none (HTML pages, and JSON too, where it
    costs nothing and stops a response rendered as a page from running anything)."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest):
        if self.is_async:
            return self._acall(request)
        return self._with_policy(request, self.get_response(request))

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        return self._with_policy(request, await self.get_response(request))

    @staticmethod
    def _with_policy(request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if HEADER not in response:
            response[HEADER] = policy_for(request)
        return response
