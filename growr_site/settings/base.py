"""Settings shared by every Growr node, read from the environment (django-environ).

With nothing set, a node runs on the embedded default: a SQLite file under var/, a Celery broker
kept in files under var/ (no server), and an in-process channel layer. DATABASE_URL and REDIS_URL
switch it to PostgreSQL and Redis. Secrets are resolved by the settings module that imports this
one: local.py generates them under var/, production.py requires them.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
if env.bool("DJANGO_READ_DOT_ENV_FILE", default=False):
    # Variables already in the environment win over the .env file.
    env.read_env(str(BASE_DIR / ".env"))

VAR_DIR = Path(env("GROWR_VAR_DIR", default=str(BASE_DIR / "var")))

# GENERAL
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
GROWR_NODE_NAME = env("GROWR_NODE_NAME", default="Growr node")
GROWR_PUBLIC_URL = env("GROWR_PUBLIC_URL", default="http://127.0.0.1:8000")
# An originator node serves all three portals; an investor node (DESIGN §9) only /invest/.
GROWR_NODE_ROLE = env("GROWR_NODE_ROLE", default="originator")
if GROWR_NODE_ROLE not in ("originator", "investor"):
    raise ImproperlyConfigured("GROWR_NODE_ROLE must be 'originator' or 'investor'")
# Which processes `manage.py runnode` starts (DESIGN §9: one image, services chosen per process).
GROWR_SERVICES = env.list("GROWR_SERVICES", default=["web", "worker", "beat", "gossip"])
# Discovery (DESIGN §6): nodes of one network name gossip with each other and refuse the rest.
GROWR_NETWORK = env("GROWR_NETWORK", default="growr")
GROWR_GOSSIP_BIND = env("GROWR_GOSSIP_BIND", default="127.0.0.1:7946")
# What peers are told to connect to; required when binding 0.0.0.0 or [::].
GROWR_GOSSIP_ADVERTISE = env("GROWR_GOSSIP_ADVERTISE", default="")
GROWR_GOSSIP_SEEDS = env.list("GROWR_GOSSIP_SEEDS", default=[])
# Run the agent inside the Celery worker (a bootstep) instead of its own `gossip` process.
GROWR_GOSSIP_IN_WORKER = env.bool("GROWR_GOSSIP_IN_WORKER", default=False)
GROWR_DEMO_DATA_ALLOWED = False
# A worker whose last heartbeat is older than this is reported down by /health/.
GROWR_WORKER_HEARTBEAT_MAX_AGE = timedelta(
    seconds=env.int("GROWR_WORKER_HEARTBEAT_MAX_AGE", default=60)
)
GROWR_WORKER_HEARTBEAT_INTERVAL = timedelta(
    seconds=env.int("GROWR_WORKER_HEARTBEAT_INTERVAL", default=15)
)
# DIDs of credential issuers this node trusts besides its own organizations (public profile).
GROWR_TRUSTED_ISSUERS = env.list("GROWR_TRUSTED_ISSUERS", default=[])
# How often beat appends outbox entries whose flush task was lost (a worker died mid-way).
GROWR_OUTBOX_SWEEP_INTERVAL = timedelta(seconds=env.int("GROWR_OUTBOX_SWEEP_INTERVAL", default=10))
# Whether followed books may be pulled from loopback or private addresses: off in production,
# where source URLs also come from other nodes' records; local settings turn it on.
GROWR_FOLLOW_PRIVATE_SOURCES = env.bool("GROWR_FOLLOW_PRIVATE_SOURCES", default=False)
# How often beat asks the sources of every followed book for new blocks.
GROWR_FOLLOW_POLL_INTERVAL = timedelta(seconds=env.int("GROWR_FOLLOW_POLL_INTERVAL", default=30))
GROWR_STAFF_INVITATION_TTL = timedelta(days=env.int("GROWR_STAFF_INVITATION_DAYS", default=7))
# bench/bench_load.py's reference: /bench/trivial/ answers "ok" through the whole middleware
# stack, so the benchmark can tell what Django itself costs on the same server. Off by default.
GROWR_BENCH_TRIVIAL_VIEW = env.bool("GROWR_BENCH_TRIVIAL_VIEW", default=False)

TIME_ZONE = env("TIME_ZONE", default="UTC")
LANGUAGE_CODE = "en-us"
USE_I18N = True
USE_TZ = True

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "apps.identity",
    "apps.node",
    "apps.projects",
    "apps.applications",
    "apps.funding",
    "apps.ledger",
    "apps.discovery",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Every response, static files and error pages included, gets the CSP header.
    "apps.node.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # Django's, with the signed-in user kept in the cache when it is Redis.
    "apps.identity.middleware.KeptUserAuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks, so it sees the outcome of authentication.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "growr_site.urls"
WSGI_APPLICATION = "growr_site.wsgi.application"
ASGI_APPLICATION = "growr_site.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "apps.identity.context_processors.portal",
                "apps.identity.context_processors.notification_bell",
            ],
        },
    },
]

# Request threads of each web process (apps/node/asgi.py): as many requests run at once, each
# holding at most one database connection of the process's pool. Two, as the cores of a small
# machine: four fought over them and halved the throughput of some pages (bench/bench_load.py).
GROWR_WEB_THREADS = env.int("GROWR_WEB_THREADS", default=2)
if GROWR_WEB_THREADS < 1:
    raise ImproperlyConfigured("GROWR_WEB_THREADS must be at least 1")

# DATABASES
# An empty DATABASE_URL means "not set", as an unset one does (compose passes empty values).
DATABASE_URL = env("DATABASE_URL", default="") or f"sqlite:///{VAR_DIR / 'growr.sqlite3'}"
DATABASES = {"default": env.db_url_config(DATABASE_URL)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share the file: WAL lets readers run beside the writer, IMMEDIATE
    # transactions take the write lock up front instead of failing on upgrade.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
else:
    # A pool of connections per process (psycopg_pool): opening one per request (PostgreSQL
    # forks a backend each time) cost more than most pages (bench/bench_load.py), and one kept
    # per thread (CONN_MAX_AGE) would hold a connection for every thread of every process,
    # busy or not. GROWR_DB_POOL_SIZE=0 goes back to a connection per request, or per thread
    # with CONN_MAX_AGE.
    _pool_size = env.int("GROWR_DB_POOL_SIZE", default=10)
    _conn_max_age = env.int("CONN_MAX_AGE", default=0)
    if _pool_size and _conn_max_age:
        raise ImproperlyConfigured(
            "CONN_MAX_AGE and the connection pool exclude each other: leave CONN_MAX_AGE at 0, "
            "or set GROWR_DB_POOL_SIZE=0"
        )
    DATABASES["default"]["CONN_MAX_AGE"] = _conn_max_age
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Django's queries bind client-side and are never prepared; this reaches only the ledger's
    # server-side-binding cursors (apps.ledger.storage), whose append statement costs more to
    # plan than to run. A pooler in transaction mode must carry prepared statements
    # (PgBouncer >= 1.21 with max_prepared_statements), or GROWR_PREPARE_THRESHOLD=off.
    _prepare_threshold = env("GROWR_PREPARE_THRESHOLD", default="2")
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = (
        None if _prepare_threshold == "off" else int(_prepare_threshold)
    )
    if _pool_size and _pool_size < GROWR_WEB_THREADS:
        # A request thread without a connection would wait GROWR_DB_POOL_TIMEOUT, then fail.
        raise ImproperlyConfigured(
            f"GROWR_DB_POOL_SIZE ({_pool_size}) is below GROWR_WEB_THREADS "
            f"({GROWR_WEB_THREADS}): each request thread needs a connection"
        )
    if _pool_size:
        DATABASES["default"]["OPTIONS"]["pool"] = {
            "min_size": 1,
            "max_size": _pool_size,
            "timeout": env.int("GROWR_DB_POOL_TIMEOUT", default=30),
        }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# REDIS: one URL drives the broker, the channel layer and the cache.
REDIS_URL = env("REDIS_URL", default="")


def redis_caches(url: str) -> dict:
    """The caches on the Redis at URL (the tests' outages use it with a port nobody serves)."""
    on_redis = {
        # Not a connection per request under ASGI, nor a client per call, and misses while
        # Redis is out of reach (a timeout there, not a hung request): apps/node/cache.py.
        "BACKEND": "apps.node.cache.ProcessRedisCache",
        "LOCATION": url,
        "OPTIONS": {
            "pool_class": "apps.node.cache.ProcessConnectionPool",
            "socket_connect_timeout": 0.5,
            "socket_timeout": 1.0,
        },
    }
    return {
        "default": on_redis,
        # A session's copy in Redis lasts a minute at most: a sign-out while Redis was out of
        # reach deletes the session from the database only, and a copy Redis kept through the
        # outage must not sign its cookie in again for the rest of the session's hours.
        "sessions": {**on_redis, "LONGEST_TIMEOUT": 60},
    }


# Whether the cache is one for all the node's processes: what the worker changes is then
# forgotten in the web processes' cache too (the embedded default's is each process's own).
GROWR_CACHE_SHARED = bool(REDIS_URL)

if REDIS_URL:
    CACHES = redis_caches(REDIS_URL)
    SESSION_CACHE_ALIAS = "sessions"
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# Every signed-in request reads its session: from Redis when the node has it (written through to
# the database, so a restart of Redis signs nobody out; Django's cached_db, read in one round trip
# with the person), else from the database, because the embedded default's cache is each
# process's own and a sign-out must reach every process.
SESSION_ENGINE = (
    "apps.identity.sessions" if GROWR_CACHE_SHARED else "django.contrib.sessions.backends.db"
)

# CELERY (celery_worker/app.py reads every CELERY_* setting)
BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    # kombu's file transport: messages are files, so the embedded node needs no broker server.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_WORKER_CONCURRENCY = env.int("CELERY_WORKER_CONCURRENCY", default=2)

# AUTHENTICATION
AUTH_USER_MODEL = "identity.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Login throttling: five failures for one e-mail from one address lock that pair for 15 minutes.
# Locking the pair (not the address alone) keeps one noisy office NAT from locking everyone out.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FORM_FIELD = "username"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "apps.identity.lockout.lockout_response"
AXES_VERBOSE = False

# E-MAIL: console by default; EMAIL_URL=smtp+tls://user:password@host:587 for SMTP.
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Growr node <noreply@localhost>")
# How people hear of replies, codes and reminders: "console", "email" or a dotted path to an
# apps.identity.notifiers.Notifier (an SMS gateway subclasses SmsNotifier).
GROWR_NOTIFIERS = env.list("GROWR_NOTIFIERS", default=["email"])
# How long a notification is kept once its person has read it (unread ones are kept).
GROWR_NOTIFICATIONS_KEEP_READ = timedelta(
    days=env.int("GROWR_NOTIFICATIONS_KEEP_DAYS", default=180)
)
# Reminders: days before a due date, and days after it while unpaid.
GROWR_REMINDER_DAYS_BEFORE = env.int("GROWR_REMINDER_DAYS_BEFORE", default=3)
GROWR_REMINDER_DAYS_AFTER = env.list("GROWR_REMINDER_DAYS_AFTER", cast=int, default=[1, 7, 30])

# STATIC FILES (vendored under static/, served by WhiteNoise; no CDN at run time)
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]

# SECURITY that holds everywhere; production.py adds what needs TLS.
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# A session ends this long after it was last saved (at sign-in, or when the node stores
# something in it): money moves here, and a borrower may sign in on a shared phone. Two weeks
# (Django's default) is too long for that.
SESSION_COOKIE_AGE = int(
    timedelta(hours=env.int("GROWR_SESSION_HOURS", default=12)).total_seconds()
)
# Scripts read the CSRF token from the form, never from the cookie.
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# API
REST_FRAMEWORK = {
    # Token first, so an anonymous API call gets 401 with a WWW-Authenticate header.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": [
        "apps.identity.api_errors.JSONBodyParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "apps.identity.api_schema.ApiSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_THROTTLE_RATES": {"anon": env("API_ANON_RATE", default="60/minute")},
    "EXCEPTION_HANDLER": "apps.identity.api_errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Growr node API",
    "DESCRIPTION": (
        "API of a Growr node. Authenticate with a session cookie (browser) or with "
        "`Authorization: Token <key>` from POST /api/auth/token/."
    ),
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}
