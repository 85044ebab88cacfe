"""Where the cache keeps what a signed-in request reads of its person (middleware.signed_in_user,
kept_pages): their generation, their kept copy and their bell's keys."""

from __future__ import annotations

import functools
import hashlib

from django.conf import settings

from .selectors import bell_keys

# Whose session the browser probably holds, so that the session and the person are read in one
# round trip (sessions.SessionStore.load_ahead). Not trusted: the session decides.
PERSON_HINT_COOKIE = "growr_person"


def user_generation_key(user_id: int) -> str:
    return f"user:generation:{user_id}"


def kept_user_key(user_id: int) -> str:
    return f"user:{_secret_digest(settings.SECRET_KEY)}:{user_id}"


@functools.lru_cache(maxsize=4)
def _secret_digest(secret_key: str) -> str:
    return hashlib.sha256(secret_key.encode()).hexdigest()[:16]


def person_keys(user_id: int) -> list[str]:
    """What a signed-in request reads of its person, in one round trip: their generation and
    kept copy, and their bell's (the layout shows it; kept_pages needs both generations)."""
    return [user_generation_key(user_id), kept_user_key(user_id), *bell_keys(user_id)]
