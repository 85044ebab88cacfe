"""Signed heads, and what two of them say about each other (forks and conflicts).

A head is the writer's signature over (tree hash, length, fork). A higher fork id is a
legitimate truncation by the writer; two valid signatures for the same fork and length over
different trees mean the writer's key signed two histories, and the log must be frozen.
"""

from __future__ import annotations

import enum
from typing import NamedTuple

from .errors import ForkConflict
from .signing import LogKeys, verify


class SignedHead(NamedTuple):
    length: int
    fork: int
    tree_hash: bytes
    signature: bytes

    def verify(self, keys: LogKeys) -> None:
        verify(keys, self.signature, self.tree_hash, self.length, self.fork)


class HeadRelation(enum.Enum):
    SAME = "same"
    OLDER = "older"  # the other head is behind ours on the same fork
    NEWER = "newer"  # the other head extends ours on the same fork (to be proven by an upgrade)
    STALE_FORK = "stale_fork"  # the other head is on an earlier fork
    NEW_FORK = "new_fork"  # the writer truncated: a reorg from the common ancestor


def compare_heads(keys: LogKeys, ours: SignedHead, theirs: SignedHead) -> HeadRelation:
    """Verify THEIRS and relate it to OURS; raise ForkConflict on two trees for one length."""
    theirs.verify(keys)
    if theirs.fork != ours.fork:
        return HeadRelation.NEW_FORK if theirs.fork > ours.fork else HeadRelation.STALE_FORK
    if theirs.length == ours.length:
        if theirs.tree_hash != ours.tree_hash:
            ours.verify(keys)
            raise ForkConflict(
                f"two valid signatures for length {ours.length} at fork {ours.fork} "
                "over different trees",
                first=ours,
                second=theirs,
            )
        return HeadRelation.SAME
    return HeadRelation.NEWER if theirs.length > ours.length else HeadRelation.OLDER
