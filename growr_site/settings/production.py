"""Settings for a node that serves real users: secrets required, TLS assumed, hardened cookies.

The node refuses to start rather than run with a guessable SECRET_KEY or without the master key
that encrypts its private keys at rest.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import REDIS_URL, env
from .secrets import decode_master_key, decode_previous_master_keys, env_secret

MIN_SECRET_KEY_LENGTH = 50


def _required_secret(name: str) -> str:
    value = env_secret(name)
    if not value:
        raise ImproperlyConfigured(
            f"{name} is not set: a production node needs it (or {name}_FILE naming a file)"
        )
    return value


def _checked_secret_key(value: str) -> str:
    if len(value) < MIN_SECRET_KEY_LENGTH or len(set(value)) < 5:
        raise ImproperlyConfigured(
            f"SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} random characters"
        )
    if value.startswith("django-insecure"):
        raise ImproperlyConfigured("SECRET_KEY is Django's insecure development key")
    return value


DEBUG = False
# A production node runs on PostgreSQL and Redis: the embedded fallbacks are for one machine.
if not env("DATABASE_URL", default=""):
    raise ImproperlyConfigured("DATABASE_URL is not set: a production node needs it")
if not REDIS_URL:
    raise ImproperlyConfigured("REDIS_URL is not set: a production node needs it")
SECRET_KEY = _checked_secret_key(_required_secret("SECRET_KEY"))
GROWR_MASTER_KEY = decode_master_key(_required_secret("GROWR_MASTER_KEY"))
GROWR_MASTER_KEYS_PREVIOUS = decode_previous_master_keys(env_secret("GROWR_MASTER_KEYS_PREVIOUS"))
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")

# TLS is terminated in front of the node (a reverse proxy or the cloud load balancer).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
# Container and load-balancer probes call /health/ over plain HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^health/$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_NAME = "__Secure-sessionid"
CSRF_COOKIE_NAME = "__Secure-csrftoken"

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
