"""The default settings: a node on one machine, for evaluation, development and the quick start.

Secrets that are not in the environment are generated once into var/ (owner-only files), so every
local node has its own random keys and nothing secret is ever hard-coded.
"""

from __future__ import annotations

from .base import *  # noqa: F403
from .base import VAR_DIR, env
from .secrets import (
    decode_master_key,
    decode_previous_master_keys,
    env_secret,
    local_secret,
    new_master_key,
)

SECRET_KEY = env_secret("SECRET_KEY") or local_secret(
    VAR_DIR / "secret_key", generate=lambda: new_master_key() + new_master_key()
)
GROWR_MASTER_KEY = decode_master_key(
    env_secret("GROWR_MASTER_KEY") or local_secret(VAR_DIR / "master_key", generate=new_master_key)
)
GROWR_MASTER_KEYS_PREVIOUS = decode_previous_master_keys(env_secret("GROWR_MASTER_KEYS_PREVIOUS"))
GROWR_DEMO_DATA_ALLOWED = True
# One machine, a network of nodes on loopback (demo, tests): sources on 127.0.0.1 are fine.
GROWR_FOLLOW_PRIVATE_SOURCES = env.bool("GROWR_FOLLOW_PRIVATE_SOURCES", default=True)
# Serve static files straight from static/ and the apps, so no collectstatic step is needed.
WHITENOISE_USE_FINDERS = True
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
