"""growr-wallet: a self-custody wallet on the command line. The key never leaves this machine.

    growr-wallet keygen wallet.json                 a new Ed25519 key; prints its did:key
    growr-wallet import-key exported.jwk wallet.json  the key a node exported (same DID)
    growr-wallet did wallet.json
    growr-wallet login wallet.json --node URL --email E     (asks the password; keeps a token)
    growr-wallet register wallet.json                 move the account to this DID (self-custody)
    growr-wallet credentials wallet.json              the credit record the node holds for you
    growr-wallet present wallet.json --request '{"age": ["birthDate"], "kyc": ["nationality"]}'
    growr-wallet sign-agreement wallet.json --loan 42 [--yes] [--out signed.json]
    growr-wallet commit wallet.json --node URL --project UUID --amount 2500.00 [--request-id R]

Presentations are built here: the LDP credentials asked for, whole; for SD-JWT ones only the
claims the request names. A loan agreement is signed here too: the wallet hashes the document
the node sent itself, checks that it names this wallet's DID as the borrower, shows the terms
and signs the hash it computed. Plain Python with the standard library, PyNaCl and sd-jwt.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import secrets
import sys
import time
import urllib.error
import urllib.request
import uuid
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

from . import did_control
from .didkey import Ed25519Key
from .presentation import build_presentation

TIMEOUT = 30


class WalletError(Exception):
    pass


def _load(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise WalletError(f"cannot read the wallet {path}: {exc}") from exc


def _save(path: Path, wallet: dict) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(wallet, handle, indent=2)


def _key(wallet: dict) -> Ed25519Key:
    return Ed25519Key.from_jwk(wallet["key"])


def _call(wallet: dict, method: str, path: str, body: dict | None = None) -> dict | list:
    node = wallet.get("node")
    if not node:
        raise WalletError("log in to a node first: growr-wallet login WALLET --node URL --email E")
    return _request(node["url"], method, path, body, token=node.get("token"))


def _request(
    base_url: str, method: str, path: str, body: dict | None = None, *, token: str | None = None
) -> dict | list:
    if not base_url.startswith(("http://", "https://")):
        raise WalletError("a node's address starts with http:// or https://")
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked just above
        base_url.rstrip("/") + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    if token:
        request.add_header("Authorization", f"Token {token}")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        try:
            error = json.loads(exc.read()).get("error", {})
        except ValueError:
            error = {}
        detail = error.get("fields") or error.get("message") or exc.reason
        code = error.get("code", exc.code)
        raise WalletError(f"the node refused ({exc.code} {code}): {detail}") from exc
    except urllib.error.URLError as exc:
        raise WalletError(f"cannot reach {base_url}: {exc.reason}") from exc


def keygen(args) -> str:
    key = Ed25519Key.generate()
    _save(args.wallet, {"key": key.private_jwk()})
    return key.did


def import_key(args) -> str:
    try:
        key = Ed25519Key.from_jwk(json.loads(args.jwk.read_text()))
    except (OSError, ValueError) as exc:
        raise WalletError(f"not an Ed25519 private JWK: {exc}") from exc
    _save(args.wallet, {"key": key.private_jwk()})
    return key.did


def did(args) -> str:
    return _key(_load(args.wallet)).did


def login(args) -> str:
    wallet = _load(args.wallet)
    wallet["node"] = {"url": args.node}
    password = args.password if args.password is not None else getpass.getpass("Password: ")
    answer = _call(wallet, "POST", "/api/auth/token/", {"email": args.email, "password": password})
    wallet["node"]["token"] = answer["token"]
    _save(args.wallet, wallet)
    return f"logged in to {args.node} as {args.email}"


def register(args) -> str:
    wallet = _load(args.wallet)
    key = _key(wallet)
    challenge = _call(wallet, "POST", "/api/wallet/challenges/")
    proof = did_control.sign_proof(key=key, nonce=challenge["nonce"], domain=challenge["domain"])
    answer = _call(wallet, "POST", "/api/wallet/self-custody/", {"proof": proof})
    return f"{answer['did']} is now in self-custody on {wallet['node']['url']}"


def credentials(args) -> str:
    entries = _call(_load(args.wallet), "GET", "/api/credentials/")
    lines = [
        f"{e['credential']['id']:>5}  {e['credential']['credential_type']:<24} {e['state']:<15}"
        f" {e['issuer_name']}"
        for e in entries
    ]
    return "\n".join(lines) or "no credentials"


def present(args) -> str:
    wallet = _load(args.wallet)
    key = _key(wallet)
    try:
        wanted = json.loads(args.request)
    except ValueError as exc:
        raise WalletError(f"--request is not JSON: {exc}") from exc
    usable = [
        e
        for e in _call(wallet, "GET", "/api/credentials/")
        if e["state"] == "valid" and e["credential"]["holder_did"] == key.did
    ]
    by_type = {e["credential"]["credential_type"]: e for e in usable}
    missing = [t for t in wanted if t not in by_type]
    if missing:
        raise WalletError(f"no valid credential of type {', '.join(missing)} for {key.did}")
    challenge = _call(wallet, "POST", "/api/presentations/challenges/", {"request": wanted})
    chosen = [by_type[t] for t in wanted]
    envelope = build_presentation(
        holder_key=key,
        ldp_documents=[e["document"] for e in chosen if e["credential"]["format"] == "ldp"],
        sd_jwt_disclosures=[
            (e["document"], wanted[e["credential"]["credential_type"]])
            for e in chosen
            if e["credential"]["format"] == "sd-jwt"
        ],
        challenge=challenge["nonce"],
        domain=challenge["domain"],
    )
    answer = _call(wallet, "POST", "/api/presentations/", {"presentation": envelope})
    return "verified; the node kept: " + json.dumps(answer["disclosed"], sort_keys=True)


def _field(value: object, *names: str) -> object:
    """VALUE[names[0]][names[1]]…, or None where the node's answer has another shape."""
    for name in names:
        value = value.get(name) if isinstance(value, dict) else None
    return value


def sign_agreement(args) -> str:
    # Plain Python like this module (no Django import): canonical form, hash, JWS, checks.
    from apps.applications import agreement as agreements

    wallet = _load(args.wallet)
    key = _key(wallet)
    path = f"/api/loans/{args.loan}/agreement/"
    answer = _call(wallet, "GET", path)
    document = _field(answer, "document")
    if not isinstance(document, dict):
        raise WalletError("the node sent no agreement document")
    try:
        document_hash = agreements.agreement_hash(document)
    except agreements.InvalidAgreement as exc:
        raise WalletError(f"the node sent a malformed agreement: {exc}") from exc
    if document_hash != _field(answer, "hash"):
        raise WalletError(
            f"the node says the agreement's hash is {_field(answer, 'hash')}, but its document "
            f"hashes to {document_hash}: not signing"
        )
    terms = [_field(document, "terms", name) for name in ("principal", "currency", "duration")]
    summary = (
        f"{document.get('reference')} ({terms[0]} {terms[1]} over {terms[2]} "
        f"{_field(document, 'terms', 'duration_unit')})"
    )
    signatures = _field(answer, "signatures")
    signatures = signatures if isinstance(signatures, list) else []
    if any(_field(s, "role") == "borrower" and _field(s, "signed") for s in signatures):
        raise WalletError(f"you signed this agreement already: {summary}")
    borrower_did = _field(document, "parties", "borrower", "did")
    if borrower_did != key.did:
        raise WalletError(
            f"the agreement names {borrower_did} as the borrower, not this wallet's {key.did}: "
            "register this wallet's DID first (growr-wallet register)"
        )
    if not args.yes:
        print(f"Loan agreement {summary}, hash {document_hash}", file=sys.stderr)
        if input("Sign it with your key? [y/N] ").strip().lower() not in ("y", "yes"):
            raise WalletError("not signed")
    signature = agreements.sign_agreement(key=key, document_hash=document_hash, role="borrower")
    signed = _call(wallet, "POST", path + "sign/", {"signature": signature})
    try:
        verified = agreements.verify_signed_agreement(signed["signed_file"])
    except (agreements.InvalidAgreement, KeyError, TypeError) as exc:
        raise WalletError(f"the node answered with a malformed signed agreement: {exc}") from exc
    if verified.hash != document_hash:
        raise WalletError("the node answered with another agreement than the one signed")
    if args.out:
        _save(args.out, signed["signed_file"])
    return (
        f"signed the agreement {verified.hash} of {summary}; "
        f"fully signed: {'yes' if verified.fully_signed else 'no'}"
    )


def commit(args) -> str:
    """Commit to a project on an originator's node, signed here: no account there is needed."""
    from apps.funding import remote

    key = _key(_load(args.wallet))
    project = _request(args.node, "GET", f"/api/projects/{args.project}/")
    currency = _field(project, "currency")
    if not isinstance(currency, str):
        raise WalletError("the node sent no project with a currency")
    request_id = args.request_id or secrets.token_urlsafe(16)
    token = remote.sign_commitment(
        key=key,
        project=uuid.UUID(args.project),
        amount=Decimal(args.amount),
        currency=currency,
        request_id=request_id,
        audience=urlsplit(args.node).netloc,
        now=int(time.time()),
    )
    answer = _request(args.node, "POST", "/api/remote-commitments/", {"token": token})
    return (
        f"committed {_field(answer, 'amount')} {currency} to {_field(project, 'name')}: "
        f"commitment {_field(answer, 'commitment')}, {_field(answer, 'status')} "
        f"(request id {request_id}: send it again with --request-id to retry safely)"
    )


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="growr-wallet", description=__doc__.split("\n")[0])
    commands = root.add_subparsers(dest="command", required=True)
    for name, function, extra in [
        ("keygen", keygen, []),
        ("import-key", import_key, ["jwk"]),
        ("did", did, []),
        ("login", login, []),
        ("register", register, []),
        ("credentials", credentials, []),
        ("present", present, []),
        ("sign-agreement", sign_agreement, []),
        ("commit", commit, []),
    ]:
        command = commands.add_parser(name)
        command.set_defaults(run=function)
        for positional in extra:
            command.add_argument(positional, type=Path)
        command.add_argument("wallet", type=Path)
    commands.choices["login"].add_argument("--node", required=True)
    commands.choices["login"].add_argument("--email", required=True)
    commands.choices["login"].add_argument("--password", help="asked for when left out")
    commands.choices["present"].add_argument("--request", required=True)
    signing = commands.choices["sign-agreement"]
    signing.add_argument("--loan", required=True, type=int, help="the loan's id")
    signing.add_argument("--yes", action="store_true", help="sign without asking")
    signing.add_argument("--out", type=Path, help="write the signed agreement file here")
    committing = commands.choices["commit"]
    committing.add_argument("--node", required=True, help="the originator's node")
    committing.add_argument("--project", required=True, help="the project's id")
    committing.add_argument("--amount", required=True, help='a decimal string, e.g. "2500.00"')
    committing.add_argument("--request-id", help="the id of a commitment to send again")
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        print(args.run(args))
    except (WalletError, ValueError) as exc:
        print(f"growr-wallet: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
