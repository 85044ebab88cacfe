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
from dataclasses import dataclass

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.messages.storage.cookie import CookieStorage
from django.contrib.messages.storage.session import SessionStorage
from django.core.cache import cache, caches
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.http.cookie import parse_cookie
from django.middleware.csrf import CSRF_ALLOWED_CHARS, CSRF_SECRET_LENGTH, get_token
from django.shortcuts import render
from django.utils.crypto import constant_time_compare

from apps.node.asgi import scope_address, scope_headers
from apps.node.cache import HeldCopies, ReadAhead, one_store

from .person_keys import PERSON_HINT_COOKIE, user_generation_key
from .selectors import bell_keys
from .sessions import SessionStore

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
    kept = _current_page(request.person_read_ahead, page_key, versions)
    if kept is not None:
        # The page was rendered, and the CSRF cookie's year renewed, PAGE_SECONDS ago at most.
        response = HttpResponse(_with_csrf_token(request, kept[1], renew_cookie=False))
        # For the front (KeptPagesFront.learn): what this answer rests on.
        response.kept_page = _KeptAnswer(
            user_id=user_id,
            session_hash=request.session[HASH_SESSION_KEY],
            version_keys=(version_key, *_person_version_keys(user_id)),
            versions=versions[1:],
            kept=kept,
        )
        return response
    response = render(request, template_name, {**context(), "csrf_token": CSRF_TOKEN_PLACEHOLDER})
    # Labelled with the versions read before it was rendered: a change meanwhile makes the next
    # visit render it again, never keeps what it changed under a newer version.
    kept = (versions, response.content, time.time() + PAGE_SECONDS)
    cache.set(page_key, kept, timeout=PAGE_SECONDS)
    held_pages.hold(page_key, kept)
    response.content = _with_csrf_token(request, response.content, renew_cookie=True)
    return response


def _current_page(ahead: ReadAhead, page_key: str, versions: tuple) -> tuple | None:
    """The page kept under PAGE_KEY at VERSIONS, as kept (versions, page, expiry): this
    process's copy where it holds that one, else the cache's (read with the session where it
    was asked there), which it holds after."""
    held = held_pages.get(page_key)
    if held is not None and held[0] == versions:
        return held
    kept = _read(ahead, [page_key]).get(page_key)
    if kept is None or kept[0] != versions:
        return None
    held_pages.hold(page_key, kept)
    return kept


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
    person, bell = (ahead.found.get(key) for key in _person_version_keys(request.user.pk))
    return None if person is None or bell is None else (person, bell)


def _person_version_keys(user_id: int) -> tuple[str, str]:
    return user_generation_key(user_id), bell_keys(user_id)[0]


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
    return _masked(secret)


def _masked(secret: str) -> str:
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


# --- Kept pages answered before Django's middleware (apps.node.asgi.SyncChainASGIHandler) ------
#
# A kept loan queue took 730 µs of CPU in process, of which the view's own work was a fifth: the
# rest was the request and the middleware around it (the session and the person, read and
# unpickled; the URL map, the messages' storage, the CSRF cookie, the headers). A page this
# process answered from its kept copy is answered again before all that, while everything that
# answer rested on still holds, as read in one round trip: the same session (same person, same
# password hash, no message waiting in it or in a cookie), the same generations of the person and
# their bell, the same version of the page, the same host and scheme, a well-formed CSRF cookie.
# Anything else goes through Django as before. The answer is the same: the headers are those the
# middleware gave the kept answer it follows, the CSRF token is masked anew, no cookie is sent
# (the answer it follows sent none either).


@dataclass(frozen=True)
class _KeptAnswer:
    """What a page answered from its kept copy rests on, beside the middleware's decisions."""

    user_id: int
    session_hash: str  # of the person's password, as their session holds it
    version_keys: tuple[str, ...]  # the page's version, the person's and their bell's generations
    versions: tuple  # what the cache held under them
    kept: tuple  # (versions, page, expiry), as held_pages holds it


@dataclass(frozen=True)
class _FrontPage:
    answer: _KeptAnswer
    signature: tuple  # what the middleware decided on, but for the cookies: _signature
    headers: tuple[tuple[str, str], ...]  # those the middleware gave the answer


def _front_key(scope: dict, user_id: object) -> str:
    return f"{user_id}:{scope_address(scope)}"


def _signature(scope: dict) -> tuple:
    """What of a request, but for its cookies, Django's middleware decides a kept page's answer
    by: the method, the scheme (a redirect to HTTPS), the host (ALLOWED_HOSTS, the CSP's
    sockets), a proxy's word on the scheme (SECURE_PROXY_SSL_HEADER)."""
    decisive = scope_headers(scope, (b"host", b"x-forwarded-proto", b"x-forwarded-host"))
    return (scope["method"], scope.get("scheme"), *decisive)


class KeptPagesFront:
    """Kept pages answered before Django (apps.node.asgi), held per person and address as
    (_FrontPage, page, expiry) where the middleware answered one from its kept copy."""

    def __init__(self, *, budget: int) -> None:
        self.pages = HeldCopies(budget=budget)

    def learn(self, request: HttpRequest, response: HttpResponseBase) -> None:
        """Holds the page RESPONSE answered from its kept copy, with the headers the middleware
        gave it, where it sent no cookie (a person hint, a CSRF cookie: those need Django)."""
        answer = getattr(response, "kept_page", None)
        if answer is None or response.cookies or response.status_code != 200:
            return
        headers = tuple(
            (name, value) for name, value in response.items() if name != "Content-Length"
        )
        front = _FrontPage(answer=answer, signature=_signature(request.scope), headers=headers)
        _, page, expiry = answer.kept
        self.pages.hold(_front_key(request.scope, answer.user_id), (front, page, expiry))

    def answer(self, scope: dict) -> HttpResponse | None:
        """The answer Django would give the request of SCOPE, where it is a page held here and
        all it rests on holds; else None, and Django answers."""
        if scope["method"] != "GET" or not settings.GROWR_CACHE_SHARED:
            return None
        cookie_headers = [value for _, value in scope_headers(scope, (b"cookie",))]
        cookies = parse_cookie(b"; ".join(cookie_headers).decode("latin-1"))
        hint = cookies.get(PERSON_HINT_COOKIE, "")
        if not (hint.isascii() and hint.isdigit()) or CookieStorage.cookie_name in cookies:
            return None
        held = self.pages.get(_front_key(scope, hint))
        if held is None:
            return None
        front, page, _ = held
        secret = cookies.get(settings.CSRF_COOKIE_NAME, "")
        if front.signature != _signature(scope) or not _well_formed_csrf_secret(secret):
            return None
        if not _rests_on_what_the_cache_holds(front.answer, cookies, hint=hint):
            return None
        response = HttpResponse(
            page.replace(CSRF_TOKEN_PLACEHOLDER.encode(), _masked(secret).encode())
        )
        for name, value in front.headers:
            response[name] = value
        response["Content-Length"] = str(len(response.content))
        return response


def _rests_on_what_the_cache_holds(answer: _KeptAnswer, cookies: dict, *, hint: str) -> bool:
    """Whether the session the cookies name is the hinted person's, as ANSWER's was, and the
    versions it rests on are still those the cache holds: read in one round trip."""
    sessions = caches[settings.SESSION_CACHE_ALIAS]
    if SessionStore.__module__ != settings.SESSION_ENGINE or not one_store(sessions):
        return False
    session_key = SessionStore.cache_key_prefix + cookies.get(settings.SESSION_COOKIE_NAME, "")
    found = sessions.get_many([session_key, *answer.version_keys])
    return _session_of(
        found.get(session_key), hint=hint, session_hash=answer.session_hash
    ) and answer.versions == tuple(found.get(key) for key in answer.version_keys)


def _session_of(session: object, *, hint: str, session_hash: str) -> bool:
    """Whether SESSION (as the cache holds it) is the hinted person's, signed in with the
    password hash the page was answered for, with no message waiting."""
    return (
        isinstance(session, dict)
        and session.get(SESSION_KEY) == hint
        and session.get(BACKEND_SESSION_KEY) in settings.AUTHENTICATION_BACKENDS
        and constant_time_compare(session.get(HASH_SESSION_KEY, ""), session_hash)
        and SessionStorage.session_key not in session
    )


def _well_formed_csrf_secret(secret: str) -> bool:
    """A secret Django's CSRF middleware takes as it is (a masked or broken one it replaces)."""
    return len(secret) == CSRF_SECRET_LENGTH and all(char in _CSRF_CHAR_INDEX for char in secret)


front = KeptPagesFront(budget=16 * 1024 * 1024)
