"""Settings for the test suite: the local settings with fast hashing and captured e-mail.

DATABASE_URL and REDIS_URL still decide the services, so CI runs the suite on PostgreSQL and Redis.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

# A worker's own Redis database, then its three demo nodes' (apps.node.network.per_node_url).
REDIS_DATABASES_PER_WORKER = 4


def redis_url_of_worker(url: str, worker: str) -> str:
    """The Redis URL of pytest-xdist's WORKER (gw0, gw1...): the databases after the ones of the
    workers before it, so that no worker's cache, channels or demo nodes meet another's."""
    parts = urlsplit(url)
    first = int(parts.path.strip("/") or 0) + REDIS_DATABASES_PER_WORKER * int(worker[2:])
    return urlunsplit(parts._replace(path=f"/{first % 16}"))


# Before the settings read it, and in the environment that the nodes a test starts inherit; once,
# for those nodes inherit the worker's name too.
_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if os.environ.get("REDIS_URL") and _worker and os.environ.get("GROWR_REDIS_OF_WORKER") != _worker:
    os.environ["REDIS_URL"] = redis_url_of_worker(os.environ["REDIS_URL"], _worker)
    os.environ["GROWR_REDIS_OF_WORKER"] = _worker

from .local import *  # noqa: E402, F403
from .local import DATABASES, VAR_DIR  # noqa: E402

# Hashing strength is not under test; speed of thousands of logins is.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory, so that processes a test starts (worker, web server) share the database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test_growr.sqlite3")}
# Tasks sent after a commit run at once, in the test's process; the process tests start real
# workers with the local settings.
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
