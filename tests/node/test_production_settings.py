"""Production settings refuse to start without real secrets, and pass `check --deploy` with them."""

from __future__ import annotations

import base64
import json
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


def test_production_cookies_are_secure_out_of_scripts_reach_and_end_within_a_day():
    """What a browser is told to do with the session and CSRF cookies behind TLS: send them
    over HTTPS only, never show them to scripts, keep them from cross-site posts, and forget
    the session within a working day."""
    names = [
        "SESSION_COOKIE_SECURE",
        "SESSION_COOKIE_HTTPONLY",
        "SESSION_COOKIE_SAMESITE",
        "SESSION_COOKIE_NAME",
        "SESSION_COOKIE_AGE",
        "CSRF_COOKIE_SECURE",
        "CSRF_COOKIE_HTTPONLY",
        "CSRF_COOKIE_SAMESITE",
        "CSRF_COOKIE_NAME",
    ]
    script = (
        "import json; from django.conf import settings; "
        f"print(json.dumps({{n: getattr(settings, n) for n in {names!r}}}))"
    )

    result = _manage("shell", "-c", script, env=_production_env())

    assert result.returncode == 0, result.stderr
    cookies = json.loads(result.stdout.strip().splitlines()[-1])
    assert cookies == {
        "SESSION_COOKIE_SECURE": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_NAME": "__Secure-sessionid",
        "SESSION_COOKIE_AGE": 12 * 60 * 60,
        "CSRF_COOKIE_SECURE": True,
        "CSRF_COOKIE_HTTPONLY": True,
        "CSRF_COOKIE_SAMESITE": "Lax",
        "CSRF_COOKIE_NAME": "__Secure-csrftoken",
    }


def test_production_answers_carry_the_content_security_policy():
    # An answer that needs neither the database nor collected static files.
    script = (
        "from django.test import Client; "
        "r = Client().get('/api/credential-types/', secure=True, HTTP_HOST='node.example.org'); "
        "print(r.status_code, r['Content-Security-Policy'])"
    )

    result = _manage("shell", "-c", script, env=_production_env())

    assert result.returncode == 0, result.stderr
    status, policy = result.stdout.strip().splitlines()[-1].split(" ", 1)
    assert status == "200"
    assert "script-src 'self';" in policy
    assert "connect-src 'self' ws://node.example.org wss://node.example.org;" in policy


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"GROWR_WEB_THREADS": "0"}, "GROWR_WEB_THREADS must be at least 1"),
        (
            {"GROWR_WEB_THREADS": "12", "GROWR_DB_POOL_SIZE": "10"},
            "GROWR_DB_POOL_SIZE (10) is below GROWR_WEB_THREADS (12)",
        ),
    ],
)
def test_a_node_refuses_request_threads_it_cannot_serve(overrides, message):
    # The pool exists only on PostgreSQL; settings are refused before anything connects.
    env = _production_env(DATABASE_URL="postgres://postgres@127.0.0.1:5432/growr", **overrides)

    result = _manage("check", env=env)

    assert result.returncode != 0
    assert message in result.stderr


def test_a_pool_as_large_as_the_request_threads_is_enough():
    env = _production_env(
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/growr",
        GROWR_WEB_THREADS="6",
        GROWR_DB_POOL_SIZE="6",
    )

    result = _manage("check", env=env)

    assert result.returncode == 0, result.stderr
