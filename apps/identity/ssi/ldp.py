"""didkit behind a synchronous face: W3C VC 1.1 with Ed25519Signature2020, and JWT presentations.

didkit 0.3.3's functions are coroutines on a Rust runtime; Django views and Celery tasks are
synchronous, so each thread keeps one event loop to run them on. didkit's verify_presentation
checks the presentation's own proof only, never the proofs of the credentials inside it: the
verifier must check each credential itself (verify_credential_proof).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

import didkit

from .didkey import Ed25519Key

_local = threading.local()
_side_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="didkit")
PROOF_CACHE_SIZE = 4096


class DidkitError(ValueError):
    """didkit refused a document: the message is didkit's."""


async def _await(function, *args):
    # didkit makes its future when called, and that needs the loop to be running already.
    return await function(*args)


def _run(function, *args):
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _run_here(function, *args)
    # Called from async code (a running loop in this thread): run on a thread of our own.
    return _side_thread.submit(_run_here, function, *args).result()


def _run_here(function, *args):
    loop = getattr(_local, "loop", None)
    if loop is None:
        loop = _local.loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(_await(function, *args))
    except (ValueError, TypeError) as exc:
        raise DidkitError(str(exc)) from exc


def _jwk(key: Ed25519Key) -> str:
    return json.dumps(key.private_jwk())


def issue_credential(document: dict, *, key: Ed25519Key) -> dict:
    options = {
        "proofPurpose": "assertionMethod",
        "verificationMethod": key.verification_method,
        "type": "Ed25519Signature2020",
    }
    signed = _run(didkit.issue_credential, json.dumps(document), json.dumps(options), _jwk(key))
    return json.loads(signed)


def _errors(result: str) -> list[str]:
    return list(json.loads(result).get("errors") or [])


def _verify_credential_uncached(document: dict) -> list[str]:
    options = json.dumps({"proofPurpose": "assertionMethod"})
    try:
        return _errors(_run(didkit.verify_credential, json.dumps(document), options))
    except DidkitError as exc:
        return [str(exc)]


class _ProofCache:
    """Digests of credentials whose proofs verified. A did:key proof verifies the same way every
    time, so a credential presented again (the usual case: a borrower applying to a second
    project) costs a hash, not a JSON-LD canonicalization."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._digests: OrderedDict[bytes, None] = OrderedDict()
        self._lock = threading.Lock()

    def __contains__(self, digest: bytes) -> bool:
        with self._lock:
            if digest in self._digests:
                self._digests.move_to_end(digest)
                return True
            return False

    def add(self, digest: bytes) -> None:
        with self._lock:
            self._digests[digest] = None
            if len(self._digests) > self._size:
                self._digests.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._digests.clear()


proof_cache = _ProofCache(PROOF_CACHE_SIZE)


def verify_credential_proof(document: dict) -> list[str]:
    """didkit's errors for the credential's proof; empty when it verifies."""
    digest = hashlib.sha256(
        json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    ).digest()
    if digest in proof_cache:
        return []
    errors = _verify_credential_uncached(document)
    if not errors:
        proof_cache.add(digest)
    return errors


def issue_presentation_jwt(
    presentation: dict, *, key: Ed25519Key, challenge: str, domain: str
) -> str:
    options = {
        "proofPurpose": "authentication",
        "verificationMethod": key.verification_method,
        "challenge": challenge,
        "domain": domain,
        "proofFormat": "jwt",
    }
    return _run(didkit.issue_presentation, json.dumps(presentation), json.dumps(options), _jwk(key))


def verify_presentation_jwt(token: str, *, challenge: str, domain: str) -> list[str]:
    options = {
        "proofPurpose": "authentication",
        "challenge": challenge,
        "domain": domain,
        "proofFormat": "jwt",
    }
    try:
        return _errors(_run(didkit.verify_presentation, token, json.dumps(options)))
    except DidkitError as exc:
        return [str(exc)]
