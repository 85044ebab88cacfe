"""Who is signed in, kept per person while the node's processes share a cache.

Every signed-in request asked PostgreSQL for its user. With Redis, the user is kept beside a
generation of theirs that every save or deletion of the row moves on (receivers.user_changed),
so a deactivation, a new role or a new password reaches the next request. Django still decides
everything else: the session's backend, and its hash against the user's password (a session
whose hash does not match goes through Django's own get_user, which may sign it out).

The password hash itself never goes to Redis: the kept user has it deferred (a page that checks
a password reads it from PostgreSQL), and beside them is the hash their sessions carry, made
with this node's SECRET_KEY, whose digest is in the key (processes restarted with another key
do not share what they kept)."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.contrib import auth
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, load_backend
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.utils.crypto import constant_time_compare
from django.utils.functional import SimpleLazyObject

from apps.node.cache import generation, kept_at_version, read_ahead

from .models import Organization, User
from .selectors import bell_keys

# A kept user lasts this long at most: a change made while Redis was out of reach moved no
# generation on, and a deactivated person must not stay signed in for longer than sessions do
# (settings: the sessions cache's LONGEST_TIMEOUT).
USER_SECONDS = 60
USER_GENERATION_SECONDS = 24 * 60 * 60


def user_generation_key(user_id: int) -> str:
    return f"user:generation:{user_id}"


def kept_user_key(user_id: int) -> str:
    secret = hashlib.sha256(settings.SECRET_KEY.encode()).hexdigest()[:16]
    return f"user:{secret}:{user_id}"


class KeptUserAuthenticationMiddleware(AuthenticationMiddleware):
    def process_request(self, request):
        super().process_request(request)  # checks the session middleware runs first
        if settings.GROWR_CACHE_SHARED:
            request.user = SimpleLazyObject(lambda: signed_in_user(request))


def signed_in_user(request):
    """auth.get_user(request), with the user read from the cache when it holds them."""
    session = request.session
    try:
        user_id = User._meta.pk.to_python(session[SESSION_KEY])
        backend_path = session[BACKEND_SESSION_KEY]
        session_hash = session[HASH_SESSION_KEY]
    except KeyError:  # signed out, or a session Django's get_user must judge
        return auth.get_user(request)
    if backend_path not in settings.AUTHENTICATION_BACKENDS:
        return auth.get_user(request)
    generation_key = user_generation_key(user_id)
    # The layout's bell is read with the person, in the same round trip.
    ahead = read_ahead([generation_key, kept_user_key(user_id), *bell_keys(user_id)])
    request.bell_read_ahead = ahead
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
