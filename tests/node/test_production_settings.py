"""Production settings refuse to start without real secrets, and pass `check --deploy` with them."""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _production_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "GROWR_MASTER_KEY"}}
    env.update(
        DJANGO_SETTINGS_MODULE="growr_site.settings.production",
        SECRET_KEY=secrets.token_urlsafe(50),
        GROWR_MASTER_KEY=base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        ALLOWED_HOSTS="node.example.org",
        DATABASE_URL=os.environ.get("DATABASE_URL", "sqlite:////tmp/growr-deploy-check.sqlite3"),
        REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
    )
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_production_settings():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=_production_env())

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY is not set"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY must be at least 50 random characters"),
        ({"SECRET_KEY": "django-insecure-" + "x1y2z3" * 10}, "insecure development key"),
        ({"GROWR_MASTER_KEY": ""}, "GROWR_MASTER_KEY is not set"),
        ({"GROWR_MASTER_KEY": "dG9vIHNob3J0"}, "GROWR_MASTER_KEY must decode to 32 bytes"),
        ({"GROWR_MASTER_KEY_FILE": "/nonexistent/master.key"}, "cannot be read"),
        ({"DATABASE_URL": ""}, "DATABASE_URL is not set"),
        ({"REDIS_URL": ""}, "REDIS_URL is not set"),
    ],
)
def test_production_refuses_to_start_without_real_secrets(overrides, message):
    result = _manage("check", env=_production_env(**overrides))

    assert result.returncode != 0
    assert message in result.stderr


def test_secrets_can_come_from_files(tmp_path):
    key_file = tmp_path / "master.key"
    key_file.write_text(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())

    result = _manage(
        "check", env=_production_env(GROWR_MASTER_KEY="", GROWR_MASTER_KEY_FILE=str(key_file))
    )

    assert result.returncode == 0, result.stderr
