"""Benchmark: the node's busiest pages and read APIs under load, beside a trivial Django view.

The node's real web process (`apps.node.processes.service_command("web")`: uvicorn workers each
on a socket of its own, the ASGI application, BENCH_LOAD_WORKERS workers,
growr_site.settings.local with DEBUG off) serves a
PostgreSQL database seeded by bench/load_seed.py: four originators, 10,000 projects and
100,000 loans in every state. wrk (Debian package `wrk`) loads each target for
BENCH_LOAD_SECONDS (default 60) with BENCH_LOAD_CONNECTIONS (default 50) connections, after a
warm-up of BENCH_LOAD_WARMUP seconds (default 5), then for BENCH_LOAD_ALONE_SECONDS (default 10)
with one connection, for the time a request takes when nothing waits before it;
bench/load_report.lua cycles through the target's paths and reports the latency percentiles.
BENCH_LOAD_WORKERS (default 2: one per core of the 2-core machine the figures come from) sets the
uvicorn workers, BENCH_LOAD_TARGETS (comma-separated names) runs some targets only.

Targets: the investor's network catalogue (/invest/projects/, its first 10 pages, signed in as
an investor), the public list of open projects (/api/projects/), the staff dashboard (/staff/)
and the loan queue (/staff/loans/ and its filters) of the largest originator, signed in as one
of its agents, and the public read API of the books (/api/books/...: books, entries, histories,
blocks with proofs). Reference, same server, same run: /bench/trivial/, a view that answers
"ok" through the whole middleware stack (enabled by GROWR_BENCH_TRIVIAL_VIEW=1, off by
default), measured first and again last; ratios are to the mean of the two.

Goals (issue 10): p95 under 50 ms, at least half the trivial view's requests per second, and
no error (socket errors, or a status of 400 or above) at 50 connections for 60 seconds. Every
path of a target is first checked to answer 200 with its page (not the login page). The web
process's log is written to the temporary directory (growr_bench_load_web.log).

The database is DATABASE_URL if it names PostgreSQL, else
postgres://postgres@127.0.0.1:5432/growr_bench_load; it is seeded once and reused while its
row counts match (BENCH_LOAD_PROJECTS, BENCH_LOAD_LOANS). Redis: REDIS_URL, else
redis://127.0.0.1:6379/5. Prints a table and one JSON line.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import random
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from dataclasses import astuple, dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The environment as given, for the web process (this one adds settings of its own).
NODE_ENVIRONMENT = dict(os.environ)
LUA = Path(__file__).resolve().parent / "load_report.lua"
SECONDS = int(os.environ.get("BENCH_LOAD_SECONDS", "60"))
WARMUP = int(os.environ.get("BENCH_LOAD_WARMUP", "5"))
CONNECTIONS = int(os.environ.get("BENCH_LOAD_CONNECTIONS", "50"))
WORKERS = int(os.environ.get("BENCH_LOAD_WORKERS", "2"))
PROJECTS = int(os.environ.get("BENCH_LOAD_PROJECTS", "10000"))
LOANS = int(os.environ.get("BENCH_LOAD_LOANS", "100000"))
WEB_LOG = Path(tempfile.gettempdir()) / "growr_bench_load_web.log"
ALONE_SECONDS = int(os.environ.get("BENCH_LOAD_ALONE_SECONDS", "10"))
REFERENCE = "trivial view (reference)"
REFERENCE_AGAIN = "trivial view (reference, again)"
ONLY = [name for name in os.environ.get("BENCH_LOAD_TARGETS", "").split(",") if name]
P95_GOAL_MS = 50
RATIO_GOAL = 0.5


def _database_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgres"):
        return url
    return "postgres://postgres@127.0.0.1:5432/growr_bench_load"


def _redis_url() -> str:
    return os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/5"


def _node_env() -> dict[str, str]:
    return {
        "DATABASE_URL": _database_url(),
        "REDIS_URL": _redis_url(),
        "DJANGO_SETTINGS_MODULE": "growr_site.settings.local",
        "DEBUG": "0",
        "GROWR_BENCH_TRIVIAL_VIEW": "1",
        # Nothing the seed does needs a worker: its tasks stay in this process's memory.
        "CELERY_BROKER_URL": "memory://localhost//",
        "EMAIL_URL": "dummymail://",
    }


def _setup_django() -> None:
    """Django in this process, for the seed and the checks, on the benchmark's database."""
    import psycopg

    url = _database_url()
    name, server = url.rsplit("/", 1)[1], url.rsplit("/", 1)[0]
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    os.environ.update(_node_env())
    # The seed forks: no pool of connections in this process (the web process has its own).
    os.environ["GROWR_DB_POOL_SIZE"] = "0"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


# --- the web process ----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(log) -> tuple[subprocess.Popen, str]:
    from apps.node.processes import service_command

    port = _free_port()
    command = service_command("web", host="127.0.0.1", port=port, web_workers=WORKERS)
    env = {**NODE_ENVIRONMENT, **_node_env()}
    env.pop("CELERY_BROKER_URL")  # the node's own: Redis
    web = subprocess.Popen(shlex.split(command), cwd=ROOT, env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/bench/trivial/", timeout=2) as response:
                if response.status == 200:
                    return web, base
        except OSError:
            if web.poll() is not None:
                break
            time.sleep(0.3)
    web.kill()
    raise SystemExit(f"the web process did not start: see {WEB_LOG}")


def _session_cookie(base: str, email: str, password: str) -> str:
    """The Cookie header of a session signed in through the login form, as a browser gets it."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(f"{base}/accounts/login/") as response:
        page = response.read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode(
        {"csrfmiddlewaretoken": token, "username": email, "password": password}
    ).encode()
    request = urllib.request.Request(
        f"{base}/accounts/login/", data=form, headers={"Referer": f"{base}/accounts/login/"}
    )
    with opener.open(request) as response:
        response.read()
    cookies = {cookie.name: cookie.value for cookie in jar}
    if "sessionid" not in cookies:
        raise SystemExit(f"could not sign in as {email}")
    return "; ".join(f"{name}={value}" for name, value in cookies.items())


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _check(base: str, target: Target) -> None:
    """Every path of TARGET answers 200 with its page (not a redirect to the login)."""
    opener = urllib.request.build_opener(_NoRedirect)
    for path in target.paths:
        request = urllib.request.Request(base + path, headers=target.headers)
        with opener.open(request) as response:
            body = response.read().decode()
            if response.status != 200 or target.expect not in body:
                raise SystemExit(f"{path}: {response.status}, not the expected page")


# --- the targets --------------------------------------------------------------------------------


@dataclass
class Target:
    name: str
    paths: list[str]
    expect: str  # text every answer holds
    headers: dict[str, str]


def _targets(base: str, report) -> list[Target]:
    from apps.applications.models import Loan
    from apps.ledger.models import BookKey, Log

    rng = random.Random(10)
    agent = {"Cookie": _session_cookie(base, report.agent_email, report.password)}
    investor = {"Cookie": _session_cookie(base, report.investor_email, report.password)}
    keys = {log.book: bytes(log.key).hex() for log in Log.objects.filter(writer=True)}
    projects_book, loans_book = keys["projects"], keys["loans"]
    project_keys = list(
        BookKey.objects.filter(log__book="projects", log__writer=True).values_list("key", flat=True)
    )
    loan_ids = list(Loan.objects.values_list("public_id", flat=True)[:1000])
    payments = Log.objects.get(writer=True, book="payments").length
    books = ["/api/books/", f"/api/books/{projects_book}/"]
    books += [f"/api/books/{projects_book}/entry/?key={k}" for k in rng.sample(project_keys, 2)]
    books += [f"/api/books/{loans_book}/entry/?key=loan:{i}" for i in rng.sample(loan_ids, 2)]
    books.append(f"/api/books/{loans_book}/history/?key=loan:{rng.choice(loan_ids)}")
    start = rng.randrange(payments - 10)
    books.append(f"/api/books/{keys['payments']}/blocks/?start={start}&end={start + 10}")
    return [
        Target(REFERENCE, ["/bench/trivial/"], "ok", {}),
        Target(
            "network catalogue /invest/projects/",
            ["/invest/projects/"] + [f"/invest/projects/?page={n}" for n in range(2, 11)],
            "<title>Projects of the network",
            investor,
        ),
        Target(
            "open projects API /api/projects/",
            [
                "/api/projects/",
                "/api/projects/?page=2",
                "/api/projects/?currency=KES",
                "/api/projects/?currency=UGX&duration=12",
                "/api/projects/?page=40",
            ],
            '"results"',
            {},
        ),
        Target("staff dashboard /staff/", ["/staff/"], "<title>Dashboard", agent),
        Target(
            "loan queue /staff/loans/",
            [
                "/staff/loans/",
                "/staff/loans/?state=to_review",
                "/staff/loans/?state=in_arrears",
                "/staff/loans/?state=active&page=3",
                "/staff/loans/?page=200",
            ],
            "<title>Loans",
            agent,
        ),
        Target("books read API /api/books/", books, '"', {}),
    ]


def _wrk(base: str, target: Target, seconds: int, connections: int = CONNECTIONS) -> dict:
    headers = [arg for name, value in target.headers.items() for arg in ("-H", f"{name}: {value}")]
    threads = min(2, connections)
    command = [
        shutil.which("wrk") or "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
        *headers,
        base + target.paths[0],
        "--",
        *target.paths,
    ]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    figures = json.loads(out.strip().splitlines()[-1])
    figures["rps"] = figures["requests"] / (figures["duration_us"] / 1e6)
    figures["error_count"] = sum(figures["errors"].values())
    figures["ms"] = {k: v / 1000 for k, v in figures["latency_us"].items() if k[0] == "p"}
    return figures


def _cpu() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return f"{os.cpu_count()} x {line.split(':', 1)[1].strip()}"
    return f"{os.cpu_count()} CPUs"


def main() -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("bench_load needs wrk: apt-get install -y wrk")
    _setup_django()
    from load_seed import invariants, seed

    report = seed(projects=PROJECTS, loans=LOANS)
    if report.cached:
        print(f"seed: reused (row counts match): {report.counts}")
    else:
        phases = ", ".join(f"{name} {seconds:.0f}" for name, seconds in report.seconds.items())
        print(f"seed: made in {sum(report.seconds.values()):.0f} s ({phases}): {report.counts}")
        problems = invariants()
        if problems:
            raise SystemExit("the seed breaks the services' rules: " + "; ".join(problems))
        print("seed: every loan keeps the services' rules; 200 signed agreements verified")
    from django.db import connection

    connection.close()
    load = os.getloadavg()
    with WEB_LOG.open("wb") as log:
        web, base = _serve(log)
        try:
            targets = [t for t in _targets(base, report) if not ONLY or t.name in ONLY]
            if targets[0].name == REFERENCE:
                # Once more at the end: the ratios use both, and their spread shows how much the
                # machine's other work moved the figures meanwhile.
                targets.append(Target(REFERENCE_AGAIN, *astuple(targets[0])[1:]))
            loaded, alone = {}, {}
            for target in targets:
                _check(base, target)
                if WARMUP:
                    _wrk(base, target, WARMUP)
                loaded[target.name] = _wrk(base, target, SECONDS)
                alone[target.name] = _wrk(base, target, ALONE_SECONDS, connections=1)
                print(f"  {target.name}: {loaded[target.name]['rps']:,.0f} requests/s")
        finally:
            web.terminate()
            web.wait(timeout=30)
    _report(loaded, alone, load)
    if any(f["error_count"] for f in loaded.values()):
        print(f"errors: see the web process's log, {WEB_LOG}")


def _report(loaded: dict[str, dict], alone: dict[str, dict], load: tuple) -> None:
    references = [loaded[name]["rps"] for name in (REFERENCE, REFERENCE_AGAIN) if name in loaded]
    reference = sum(references) / len(references) if references else None
    print(
        f"{SECONDS} s per target at {CONNECTIONS} connections, then {ALONE_SECONDS} s at one; "
        f"{WORKERS} uvicorn workers; {_cpu()}; load average before {load[0]:.2f}; "
        f"{datetime.now(UTC):%Y-%m-%d}"
    )
    print(
        f"{'target':<38}{'req/s':>8}{'p50':>7}{'p95':>7}{'p99':>7}{'errors':>7}{'ratio':>7}"
        f"{'alone p50':>10}{'p95':>6}  goals: p95 < {P95_GOAL_MS} ms, ratio >= {RATIO_GOAL}, "
        "no error"
    )
    rows = []
    for name, f in loaded.items():
        ms, one = f["ms"], alone[name]["ms"]
        ratio = f["rps"] / reference if reference else None
        goals = {
            "p95": ms["p95"] < P95_GOAL_MS,
            "ratio": ratio is not None and ratio >= RATIO_GOAL,
            "errors": f["error_count"] == 0,
        }
        print(
            f"{name:<38}{f['rps']:>8,.0f}{ms['p50']:>7.1f}{ms['p95']:>7.1f}{ms['p99']:>7.1f}"
            f"{f['error_count']:>7}{ratio or 0:>7.2f}{one['p50']:>10.1f}{one['p95']:>6.1f}  "
            + ", ".join(f"{goal} {'met' if ok else 'NOT met'}" for goal, ok in goals.items())
        )
        rows.append(
            {
                "target": name,
                "rps": round(f["rps"], 1),
                **{f"{k}_ms": round(v, 2) for k, v in ms.items()},
                "errors": f["errors"],
                "requests": f["requests"],
                "ratio": round(ratio, 3) if ratio is not None else None,
                "alone_ms": {k: round(v, 2) for k, v in one.items()},
                "goals_met": goals,
            }
        )
    print(
        json.dumps(
            {
                "benchmark": "load",
                "seconds": SECONDS,
                "connections": CONNECTIONS,
                "web_workers": WORKERS,
                "load_average_before": load[0],
                "targets": rows,
            }
        )
    )


if __name__ == "__main__":
    main()
