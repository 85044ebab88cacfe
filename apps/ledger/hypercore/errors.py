"""Errors of the log core. Everything that comes from outside raises a HypercoreError subclass."""

from __future__ import annotations


class HypercoreError(Exception):
    """Base of every error this package raises on bad input."""


class InvalidRequest(HypercoreError):
    """A proof request that cannot be answered (out of range, malformed)."""


class InvalidProof(HypercoreError):
    """A proof whose nodes do not hash up to what it claims."""


class InvalidSignature(HypercoreError):
    """A signature that does not verify for the log's key."""


class DecodeError(HypercoreError):
    """Bytes that do not decode as the expected compact encoding."""


class ForkConflict(HypercoreError):
    """Two valid signatures for one (fork, length) over different trees: the writer forked.

    Both heads are kept as evidence.
    """

    def __init__(self, message: str, *, first, second) -> None:
        super().__init__(message)
        self.first = first
        self.second = second
