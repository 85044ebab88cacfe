"""Settings for the test suite: the local settings with fast hashing and captured e-mail.

DATABASE_URL and REDIS_URL still decide the services, so CI runs the suite on PostgreSQL and Redis.
"""

from __future__ import annotations

from .local import *  # noqa: F403
from .local import DATABASES, VAR_DIR

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
