"""The busiest signed-in pages, kept whole per person while the node's processes share a cache.

What the staff dashboard, the loan queue and the network catalogue show of an organization or of
the network is kept already (applications.selectors.kept_for_organization,
ledger.selectors.kept_while_projects_books_stay). What was left on every visit was rendering the
layout and the page around it: about two fifths of a kept dashboard's time (py-spy), the person's
name and role, their bell, the navigation, a dozen links. So the page is kept whole, per person
and address, beside three versions: the page's own (the organization's staff generation, the
projects books' version), the person's generation (their name, role, organization) and their
bell's. All of them and the page come with the session, in one round trip
(middleware.signed_in_user reads keys_to_read_ahead): the page by the person and the address,
its version where this process learnt where that is kept (one round trip more where not).

Each process also holds the pages it served last (held_pages): a page still current then costs the
read of its versions only, not its bytes again. A loan queue is 25 kB, nearly all of what its one
read carried; held, Redis spent 42 µs of CPU on an answer under load instead of 57. A held page
is served on the same terms as the cache's copy: at the versions read for the request, and not
after that copy expires.

Two things are never kept: the CSRF token, masked anew for every answer as Django does, goes in
where the kept copy holds a placeholder; and a request with a message to show is rendered as
before, and not kept, so the message shows once."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CSRF_ALLOWED_CHARS, CSRF_SECRET_LENGTH, get_token
from django.shortcuts import render

from apps.node.cache import HeldCopies, ReadAhead

from .person_keys import user_generation_key
from .selectors import bell_keys

# A kept page lasts this long at most, as the parts it holds do: what changes around a save
# (an invitation that expires, a followed node's sync time) shows within it.
PAGE_SECONDS = 60
# Where the CSRF token goes: PostgreSQL stores no NUL, so no text a page shows can hold this.
CSRF_TOKEN_PLACEHOLDER = "\x00csrf-token\x00"  # noqa: S105 (no secret: where one goes)


def render_kept(
    request: HttpRequest,
    template_name: str,
    context: Callable[[], dict],
    *,
    key: str,
    version_key: str,
    version: Callable[[], object],
) -> HttpResponse:
    """render(request, TEMPLATE_NAME, CONTEXT()), kept for the signed-in person at this address.
    KEY names what the page shows; VERSION_KEY is where the cache holds its version (VERSION
    gives it when the cache has none). CONTEXT is called only when the page is rendered."""
    person = _person_versions(request)
    if person is None or len(messages.get_messages(request)):
        return render(request, template_name, context())
    user_id = request.user.pk
    page_key = _page_key(user_id, request)
    found = _read(request.person_read_ahead, [version_key])
    _version_keys[(user_id, request.path)] = version_key
    if len(_version_keys) > VERSION_KEYS_KEPT:
        _version_keys.clear()
    current = found.get(version_key)
    if current is None:
        current = version()
    versions = (key, current, *person)
    page = _current_page(request.person_read_ahead, page_key, versions)
    if page is not None:
        # The page was rendered, and the CSRF cookie's year renewed, PAGE_SECONDS ago at most.
        return HttpResponse(_with_csrf_token(request, page, renew_cookie=False))
    response = render(request, template_name, {**context(), "csrf_token": CSRF_TOKEN_PLACEHOLDER})
    # Labelled with the versions read before it was rendered: a change meanwhile makes the next
    # visit render it again, never keeps what it changed under a newer version.
    kept = (versions, response.content, time.time() + PAGE_SECONDS)
    cache.set(page_key, kept, timeout=PAGE_SECONDS)
    held_pages.hold(page_key, kept)
    response.content = _with_csrf_token(request, response.content, renew_cookie=True)
    return response


def _current_page(ahead: ReadAhead, page_key: str, versions: tuple) -> bytes | None:
    """The page kept under PAGE_KEY at VERSIONS: this process's copy where it holds that one,
    else the cache's (read with the session where it was asked there), which it holds after."""
    held = held_pages.get(page_key)
    if held is not None and held[0] == versions:
        return held[1]
    kept = _read(ahead, [page_key]).get(page_key)
    if kept is None or kept[0] != versions:
        return None
    held_pages.hold(page_key, kept)
    return kept[1]


# A few hundred pages: every staff member's and investor's busiest pages on a busy node.
held_pages = HeldCopies(budget=16 * 1024 * 1024)


# Where each person's page at each path was last kept beside its version, as this process saw
# it: read with the session next time (keys_to_read_ahead). A key not known here costs a round
# trip more, never a wrong page, so the table is simply emptied past VERSION_KEYS_KEPT entries.
_version_keys: dict[tuple[int, str], str] = {}
VERSION_KEYS_KEPT = 10_000


def keys_to_read_ahead(request: HttpRequest, *, user_id: int) -> list[str]:
    """What REQUEST would read of the page kept for USER_ID at its address, for the read with
    the session (middleware.signed_in_user): its version where this process knows where that
    is, and the page unless this process holds it. Only a GET can be answered by a kept page."""
    if request.method != "GET":
        return []
    version_key = _version_keys.get((user_id, request.path))
    page_key = _page_key(user_id, request)
    if version_key is None:
        return [page_key]
    return [version_key] if held_pages.get(page_key) else [page_key, version_key]


def _read(ahead: ReadAhead, keys: list[str]) -> dict:
    """KEYS as the read ahead with the session found them, and those it did not ask, now."""
    found = {key: ahead.found[key] for key in keys if key in ahead.found}
    missing = [key for key in keys if key not in ahead.asked]
    return {**found, **cache.get_many(missing)} if missing else found


def _person_versions(request: HttpRequest) -> tuple[object, object] | None:
    """The generations of the person and of their bell that the request read ahead, or None
    where it read none (no shared cache, or a session Django's own get_user judged)."""
    ahead = getattr(request, "person_read_ahead", None)
    if not settings.GROWR_CACHE_SHARED or ahead is None or not ahead.still_good():
        return None
    user_id = request.user.pk
    person = ahead.found.get(user_generation_key(user_id))
    bell = ahead.found.get(bell_keys(user_id)[0])
    return None if person is None or bell is None else (person, bell)


def _page_key(user_id: int, request: HttpRequest) -> str:
    # The path holds the script prefix the page's links start with; what else the page's
    # content depends on (the day, the organization) is among the versions it is kept beside.
    address = hashlib.sha256(request.get_full_path().encode()).hexdigest()[:32]
    # "page2": what is kept there holds its expiry, which what was kept under "page" did not.
    return f"page2:{user_id}:{address}"


def _with_csrf_token(request: HttpRequest, page: bytes, *, renew_cookie: bool) -> bytes:
    token = masked_csrf_token(request, renew_cookie=renew_cookie)
    return page.replace(CSRF_TOKEN_PLACEHOLDER.encode(), token.encode())


_CSRF_CHAR_INDEX = {char: index for index, char in enumerate(CSRF_ALLOWED_CHARS)}
# Random bytes below the largest multiple of the alphabet's size: every character as likely.
_CSRF_UNBIASED_BELOW = 256 - 256 % len(CSRF_ALLOWED_CHARS)


def masked_csrf_token(request: HttpRequest, *, renew_cookie: bool) -> str:
    """get_token(REQUEST): the request's CSRF secret masked anew as Django masks it (and its
    middleware unmasks it), with one read of the system's randomness where Django's makes one
    per character of the mask (32: 31 µs a token here, against 6). A request without a secret
    yet goes through get_token, which makes one.

    get_token has the middleware send the cookie again, for its expiry to start over (a year):
    RENEW_COOKIE False leaves that out (16 µs and the header), for an answer whose page was
    rendered, and the cookie sent, a minute before at most."""
    secret = request.META.get("CSRF_COOKIE")
    if secret is None:
        return get_token(request)
    if renew_cookie:
        request.META["CSRF_COOKIE_NEEDS_UPDATE"] = True
    size = len(CSRF_ALLOWED_CHARS)
    mask: list[int] = []
    while len(mask) < CSRF_SECRET_LENGTH:
        mask += [byte % size for byte in secrets.token_bytes(48) if byte < _CSRF_UNBIASED_BELOW]
    mask = mask[:CSRF_SECRET_LENGTH]
    cipher = (
        CSRF_ALLOWED_CHARS[(_CSRF_CHAR_INDEX[char] + m) % size]
        for char, m in zip(secret, mask, strict=True)
    )
    return "".join(CSRF_ALLOWED_CHARS[m] for m in mask) + "".join(cipher)
