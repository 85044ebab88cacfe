"""Reading secrets from the environment, Docker-secret files, or (locally) generated files.

Plain Python with no Django settings access, so every settings module can use it.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import secrets
import tempfile
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

MASTER_KEY_BYTES = 32


def env_secret(name: str) -> str | None:
    """Return the secret NAME, preferring the file named by NAME_FILE (Docker/Kubernetes secrets).

    A NAME_FILE that is set but unreadable fails loudly: silently falling back to another value
    would start a node with a key its operator did not choose.
    """
    file_path = os.environ.get(f"{name}_FILE", "")
    if file_path:
        try:
            value = Path(file_path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={file_path} cannot be read: {exc}") from exc
        if not value:
            raise ImproperlyConfigured(f"{name}_FILE={file_path} is empty")
        return value
    return os.environ.get(name) or None


def local_secret(path: Path, *, generate) -> str:
    """Return the secret kept in PATH, creating it (owner-only) on first use.

    Used only by the local/embedded settings so that a newcomer's node has stable, random keys
    without configuration, and never shares a hard-coded key with anyone else.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        _create_once(path, generate())
    return path.read_text().strip()


def _create_once(path: Path, value: str) -> None:
    """Write VALUE to PATH unless another process got there first.

    The node's processes, or parallel test workers, may start together on a fresh folder: each
    writes a whole file aside and links it into place, so the first link wins, nobody reads a
    half-written key, and every process ends up with the same one.
    """
    fd, staging = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(value)
        with contextlib.suppress(FileExistsError):
            os.link(staging, path)
    finally:
        os.unlink(staging)


def new_master_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(MASTER_KEY_BYTES)).decode()


def decode_master_key(value: str) -> bytes:
    """Decode GROWR_MASTER_KEY (URL-safe base64 of 32 random bytes) or refuse to start."""
    try:
        key = base64.urlsafe_b64decode(value.encode())
    except (binascii.Error, ValueError) as exc:
        raise ImproperlyConfigured("GROWR_MASTER_KEY is not valid URL-safe base64") from exc
    if len(key) != MASTER_KEY_BYTES:
        raise ImproperlyConfigured(
            f"GROWR_MASTER_KEY must decode to {MASTER_KEY_BYTES} bytes, got {len(key)}; "
            "generate one with: python -c 'import base64,os;"
            "print(base64.urlsafe_b64encode(os.urandom(32)).decode())'"
        )
    return key


def decode_previous_master_keys(value: str | None) -> list[bytes]:
    """GROWR_MASTER_KEYS_PREVIOUS: comma-separated keys that values may still be sealed under
    while `manage.py reseal` moves them to the current key."""
    return [decode_master_key(part.strip()) for part in (value or "").split(",") if part.strip()]
