"""The demo network's scripted journey, through the public and personal APIs a user's client
would call (`manage.py demo_scenario`, and the three-node tests):

1. Kofi's investor node C has found originators A and B through the seed and follows their
   books: both nodes' projects are in C's catalogue.
2. Wanjiru applies on A for the dairy goat project with a presentation of her credentials; Juma
   approves; she signs the agreement; Juma disburses.
3. Kofi funds the same project from C: C signs his commitment and sends it to A.
4. Juma confirms Kofi's funds and records a repayment of Wanjiru's loan.
5. C's portfolio shows Kofi's share of that repayment, and C's copies of A's loan and funding
   books verify from nothing against A's key, up to A's heads.

Plain Python over HTTP (urllib); it never imports Django.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from urllib.error import HTTPError, URLError
from urllib.request import Request, urlopen

from apps.ledger.replication import HttpSource, ReplicationError, verify_book

DEMO_PASSWORD = "growr-demo-2026"  # noqa: S105 (apps/node/demo.py: published with the demo)
CONSENT_VERSION = "2026-11"  # apps/applications/consent.py: the wording the borrower accepts


class ScenarioError(Exception):
    """A step did not do what the journey expects; the message names the step and why."""


class Api:
    """One person's client of one node's API (token authentication)."""

    def __init__(self, base_url: str, token: str = "") -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token

    @classmethod
    def login(cls, base_url: str, email: str, password: str = DEMO_PASSWORD) -> Api:
        answer = cls(base_url).call(
            "POST", "/api/auth/token/", {"email": email, "password": password}
        )
        return cls(base_url, answer["token"])

    def call(self, method: str, path: str, payload: dict | None = None) -> dict | list:
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Token {self.token}"
        body = None
        if payload is not None:
            body = json.dumps(payload).encode()
            headers["Content-Type"] = "application/json"
        # The node URLs are the launcher's own http://127.0.0.1 addresses (no file: scheme).
        request = Request(self.base_url + path, data=body, headers=headers, method=method)  # noqa: S310
        try:
            with urlopen(request, timeout=30) as response:  # noqa: S310
                return json.loads(response.read() or b"{}")
        except HTTPError as error:
            detail = error.read()[:2000].decode(errors="replace")
            raise ScenarioError(
                f"{method} {self.base_url}{path}: HTTP {error.code} {detail}"
            ) from None
        except URLError as error:
            raise ScenarioError(f"{method} {self.base_url}{path}: {error.reason}") from None

    def get(self, path: str) -> dict | list:
        return self.call("GET", path)

    def post(self, path: str, payload: dict | None = None) -> dict | list:
        return self.call("POST", path, payload or {})


def wait_for(what: str, check: Callable[[], object], *, timeout: float) -> object:
    """CHECK's first truthy answer, asked every half second, or ScenarioError after TIMEOUT."""
    deadline = time.monotonic() + timeout
    while True:
        answer = check()
        if answer:
            return answer
        if time.monotonic() > deadline:
            raise ScenarioError(f"waited {timeout:.0f} s for {what}")
        time.sleep(0.5)


@dataclass
class ScenarioResult:
    steps: list[tuple[str, float]] = field(default_factory=list)
    loan: dict = field(default_factory=dict)
    commitment: dict = field(default_factory=dict)
    repayment: dict = field(default_factory=dict)
    position: dict = field(default_factory=dict)
    verified_books: dict = field(default_factory=dict)
    distribution_seconds: float = 0.0


def _books(node_url: str) -> dict[str, dict]:
    """The books a node holds, by key."""
    return {book["key"]: book for book in Api(node_url).get("/api/books/")["books"]}


def run_scenario(
    *, a_url: str, b_url: str, c_url: str, say: Callable[[str], None] = print, timeout: float = 90
) -> ScenarioResult:
    result = ScenarioResult()
    started = time.monotonic()
    run = uuid.uuid4().hex[:8]

    def step(text: str) -> None:
        elapsed = time.monotonic() - started
        result.steps.append((text, elapsed))
        say(f"[{elapsed:6.1f} s] {text}")

    kofi = Api.login(c_url, "kofi@own.demo.growr.test")
    a_books, b_books = _writer_books(a_url), _writer_books(b_url)

    # 1. Discovery: C follows A's and B's projects books and shows their projects.
    def catalogue() -> dict | None:
        listed = kofi.get("/api/network/projects/")["results"]
        by_name = {p["name"]: p for p in listed}
        goats = next((p for n, p in by_name.items() if n.startswith("Dairy goats")), None)
        solar = next((p for n, p in by_name.items() if n.startswith("Solar irrigation")), None)
        return {"goats": goats, "solar": solar} if goats and solar else None

    found = wait_for("C to list the projects of A and B", catalogue, timeout=timeout)
    goats = found["goats"]
    if goats["book"] != a_books["projects"] or found["solar"]["book"] != b_books["projects"]:
        raise ScenarioError("C lists the projects under other books than A's and B's")
    step(f"C found A and B through the seed; its catalogue lists {goats['name']!r} from "
         f"{goats['origin_name']} and {found['solar']['name']!r} from "
         f"{found['solar']['origin_name']}")  # fmt: skip

    # 2. Wanjiru applies on A, Juma approves, she signs, Juma disburses.
    wanjiru = Api.login(a_url, "wanjiru@demo.growr.test")
    juma = Api.login(a_url, "agent@kijani.demo.growr.test")
    loan = _apply(wanjiru, project=goats["id"], amount="20000.00", duration=12)
    step(f"Wanjiru applied on A: {loan['reference']} for {loan['amount']} {loan['currency']}")
    juma.post(f"/api/staff/loans/{loan['id']}/approve/")
    wanjiru.post(f"/api/loans/{loan['id']}/agreement/sign/", {"password": DEMO_PASSWORD})
    step("Juma approved it and Wanjiru signed the agreement (both signatures on one hash)")
    loan = juma.post(
        f"/api/staff/loans/{loan['id']}/disburse/",
        {"rail": "mobile_money", "reference": f"SCN-D-{run}"},
    )
    if loan["status"] != "active":
        raise ScenarioError(f"the disbursed loan is {loan['status']}, not active")
    result.loan = loan
    first = next(row for row in loan["schedule"] if row["number"] >= 1)
    step(f"Juma disbursed it: the loan is active, first {first['total_due']} due {first['due_on']}")

    # 3. Kofi funds the project from his own node.
    sent = kofi.post(
        "/api/network/commitments/",
        {"book": goats["book"], "project": goats["id"], "amount": "50000.00",
         "request_id": f"scenario-{run}"},
    )  # fmt: skip
    if sent["status"] != "pending":
        raise ScenarioError(f"A answered Kofi's commitment with {sent['status']!r}")
    step(f"Kofi committed {sent['amount']} {sent['currency']} from C; A accepted it (pending)")

    # 4. Juma confirms the funds and records a repayment.
    juma.post(
        f"/api/staff/commitments/{sent['commitment']}/confirm/", {"reference": f"SCN-F-{run}"}
    )
    payment = juma.post(
        f"/api/staff/loans/{loan['id']}/repayments/",
        {"amount": "2500.00", "reference": f"SCN-R-{run}", "rail": "mobile_money",
         "paid_on": date.today().isoformat()},
    )  # fmt: skip
    result.repayment = payment
    repaid_at = time.monotonic()
    step(f"Juma confirmed Kofi's funds and recorded a repayment of {payment['amount']}: "
         f"principal {payment['principal']}, interest {payment['interest']}")  # fmt: skip

    # 5. C shows Kofi's share; C's copies of A's books verify.
    def position() -> dict | None:
        for held in kofi.get("/api/network/commitments/"):
            shared = Decimal(held["principal_returned"]) + Decimal(held["interest_received"])
            if (
                held["commitment"] == sent["commitment"]
                and held["status"] == "confirmed"
                and shared
            ):
                return held
        return None

    held = wait_for("C's portfolio to show Kofi's share", position, timeout=timeout)
    result.position = held
    result.distribution_seconds = time.monotonic() - repaid_at
    # Kofi is the project's only confirmed funder: the whole principal and interest are his.
    if (held["principal_returned"], held["interest_received"]) != (
        payment["principal"],
        payment["interest"],
    ):
        raise ScenarioError(f"C shows {held}, A applied {payment}")
    step(f"C's portfolio shows Kofi's share {result.distribution_seconds:.1f} s after the "
         f"repayment: principal {held['principal_returned']}, interest "
         f"{held['interest_received']}")  # fmt: skip

    for kind in ("loans", "funding"):
        key = a_books[kind]
        target = _books(a_url)[key]["length"]
        head = wait_for(
            f"C's copy of A's {kind} book to reach length {target}",
            lambda key=key, target=target: _verified_copy(c_url, key, target),
            timeout=timeout,
        )
        result.verified_books[kind] = head
        step(f"C's copy of A's {kind} book verifies from nothing against A's key: "
             f"{head['length']} blocks, tree hash {head['tree_hash'][:16]}…")  # fmt: skip
    return result


def _writer_books(node_url: str) -> dict[str, str]:
    """The books a node writes, kind -> key: the ones its read API lists as its own."""
    return {b["book"]: key for key, b in _books(node_url).items() if b["own"]}


def _apply(borrower: Api, *, project: str, amount: str, duration: int) -> dict:
    """Apply with a presentation of exactly the credentials and claims the project asks for."""
    answer = borrower.post("/api/loans/challenge/", {"project": project})
    presentation = None
    if answer["credentials_required"]:
        challenge = answer["challenge"]
        record = borrower.get("/api/credentials/")
        chosen = {
            entry["credential"]["id"]: challenge["request"][entry["credential"]["credential_type"]]
            for entry in record
            if entry["credential"]["credential_type"] in challenge["request"]
            and entry["state"] == "valid"
        }
        presentation = borrower.post(
            "/api/presentations/custodial/",
            {"nonce": challenge["nonce"], "credentials": list(chosen),
             "disclose": {str(pk): claims for pk, claims in chosen.items()}},
        )  # fmt: skip
    return borrower.post(
        "/api/loans/",
        {"project": project, "amount": amount, "duration": duration,
         "purpose": "Two in-calf goats.", "consent_version": CONSENT_VERSION,
         "presentation": presentation},
    )  # fmt: skip


def _verified_copy(node_url: str, key: str, at_least: int) -> dict | None:
    """NODE_URL's copy of book KEY verified from its first block against the writer's key, once
    it holds AT_LEAST blocks; None before."""
    source = HttpSource(node_url, allow_private=True)
    try:
        head = verify_book(source, bytes.fromhex(key))
    except ReplicationError as error:
        if error.fault == "unreachable":
            return None
        raise ScenarioError(f"C's copy of {key[:16]}… does not verify: {error.detail}") from None
    finally:
        source.close()
    if head.length < at_least:
        return None
    return {"key": key, "length": head.length, "tree_hash": head.tree_hash.hex()}
