"""Sessions in the cache, written through to the database (Django's cached_db), that can be read
in one round trip with what the request reads of the person (settings: SESSION_ENGINE, with
Redis).

A signed-in page read the session, then the person and their bell, then the page: three round
trips to Redis, each a tenth to a sixth of a kept page's time (py-spy). The middleware knows
whose session it probably is (PERSON_HINT_COOKIE) before reading it, so it reads the person's
keys with the session. The hint is only that: the session decides who is signed in, and a
hint that does not match it costs the keys it read ahead for nothing."""

from __future__ import annotations

from django.contrib.sessions.backends import cached_db

from apps.node.cache import ReadAhead, one_store, read_ahead


class SessionStore(cached_db.SessionStore):
    """Django's, under the same keys in the cache and the same rows: an upgrade signs nobody
    out."""

    def load_ahead(self, keys: list[str]) -> ReadAhead | None:
        """Loads the session with KEYS of the node's cache in one round trip, and gives what was
        found of them. None where that cannot be: the session was read already, the request
        has none, or the sessions' cache is not where the node's is (then the session loads as
        usual, when it is first asked)."""
        if hasattr(self, "_session_cache") or self.session_key is None:
            return None
        if not one_store(self._cache):
            return None
        ahead = read_ahead([self.cache_key, *keys], using=self._cache)
        data = ahead.found.get(self.cache_key)
        if data is not None:  # else load() asks the database, as Django's does
            self._session_cache = data
        return ahead
