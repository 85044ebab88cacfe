"""Who is signed in, kept per person while the node's processes share a cache.

Every signed-in request asked PostgreSQL for its user. With Redis, the user is kept beside a
generation of theirs that every save or deletion of the row moves on (receivers.user_changed),
so a deactivation, a new role or a new password reaches the next request. Django still decides
everything else: the session's backend, and its hash against the user's password (a session
whose hash does not match goes through Django's own get_user, which may sign it out).

The password hash itself never goes to Redis: the kept user has it deferred (a page that checks
a password reads it from PostgreSQL), and beside them is the hash their sessions carry, made
with this node's SECRET_KEY, whose digest is in the key (processes restarted with another key
do not share what they kept).

The person's keys are read with the session in one round trip where the browser names whose
session it holds (PERSON_HINT_COOKIE, sessions.SessionStore.load_ahead), and the request keeps
what was read (request.person_read_ahead) for the layout's bell and kept_pages, whose page at the
request's address is read in the same round trip (kept_pages.keys_to_read_ahead)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import auth
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, load_backend
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.utils.crypto import constant_time_compare
from django.utils.functional import SimpleLazyObject

from apps.node.cache import ReadAhead, generation, kept_at_version, read_ahead

from . import kept_pages
from .models import Organization, User
from .person_keys import PERSON_HINT_COOKIE, kept_user_key, person_keys, user_generation_key

# A kept user lasts this long at most: a change made while Redis was out of reach moved no
# generation on, and a deactivated person must not stay signed in for longer than sessions do
# (settings: the sessions cache's LONGEST_TIMEOUT).
USER_SECONDS = 60
USER_GENERATION_SECONDS = 24 * 60 * 60


class KeptUserAuthenticationMiddleware(AuthenticationMiddleware):
    def process_request(self, request):
        super().process_request(request)  # checks the session middleware runs first
        if settings.GROWR_CACHE_SHARED:
            request.user = SimpleLazyObject(lambda: signed_in_user(request))

    def process_response(self, request, response):
        if hasattr(request, "person_read_ahead"):  # the person was read: keep the hint right
            _keep_person_hint(request, response)
        return response


def _keep_person_hint(request, response) -> None:
    person = request.user.pk  # None after a sign-out: the hint stays, and costs nothing there
    if person is not None and request.COOKIES.get(PERSON_HINT_COOKIE) != str(person):
        response.set_cookie(
            PERSON_HINT_COOKIE,
            str(person),
            max_age=settings.SESSION_COOKIE_AGE,
            path=settings.SESSION_COOKIE_PATH,
            secure=settings.SESSION_COOKIE_SECURE,
            httponly=True,
            samesite=settings.SESSION_COOKIE_SAMESITE,
        )


def _session_read_with_person(request) -> tuple[int | None, ReadAhead | None]:
    """Who the hint names, and what was read of them with the session (None where nothing was:
    no hint, or a session store that cannot, sessions.SessionStore.load_ahead)."""
    hint = request.COOKIES.get(PERSON_HINT_COOKIE, "")
    if not (hint.isascii() and hint.isdigit() and len(hint) <= 18):
        return None, None
    load_ahead = getattr(request.session, "load_ahead", None)
    if load_ahead is None:
        return None, None
    hinted = int(hint)
    return hinted, load_ahead(_keys_read_with_session(request, hinted))


def _keys_read_with_session(request, user_id: int) -> list[str]:
    """The person's keys, and those of the page they ask for where it may be kept for them."""
    return [*person_keys(user_id), *kept_pages.keys_to_read_ahead(request, user_id=user_id)]


def signed_in_user(request):
    """auth.get_user(request), with the user read from the cache when it holds them."""
    session = request.session
    hinted, ahead = _session_read_with_person(request)
    try:
        user_id = User._meta.pk.to_python(session[SESSION_KEY])
        backend_path = session[BACKEND_SESSION_KEY]
        session_hash = session[HASH_SESSION_KEY]
    except KeyError:  # signed out, or a session Django's get_user must judge
        return auth.get_user(request)
    if backend_path not in settings.AUTHENTICATION_BACKENDS:
        return auth.get_user(request)
    if ahead is None or hinted != user_id:
        ahead = read_ahead(_keys_read_with_session(request, user_id))
    request.person_read_ahead = ahead
    generation_key = user_generation_key(user_id)
    kept = kept_at_version(
        key=kept_user_key(user_id),
        version_key=generation_key,
        version=lambda: generation(generation_key, seconds=USER_GENERATION_SECONDS),
        build=lambda: _without_password(load_backend(backend_path).get_user(user_id)),
        seconds=USER_SECONDS,
        ahead=ahead,
    )
    if kept is not None and constant_time_compare(session_hash, kept[1]):
        return kept[0]
    return auth.get_user(request)


def _without_password(user: User | None) -> tuple[User, str] | None:
    """USER with their password deferred and their organization read (every staff page shows
    it; receivers.organization_changed moves its members' generations on), and the hash their
    sessions carry."""
    if user is None:
        return None
    if user.organization_id is not None:
        user.organization = Organization.objects.get(pk=user.organization_id)
    session_hash = user.get_session_auth_hash()
    del user.__dict__["password"]  # read again from the database if anything asks for it
    return user, session_hash
