"""Storage of the public books: Hypercore-compatible signed logs in the node's database.

A `Log` is one Hypercore (its key, its signing key sealed under the node master key, and its
current signed head). Its blocks (each with the tree nodes it created) and every signed head are
rows keyed by log and index, so reading block i with its proof is an index lookup, not a scan.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from .hypercore.signing import LogKeys, Mode


class Book(models.TextChoices):
    NODE_PROFILE = "node_profile", "Node profile"
    PROJECTS = "projects", "Projects"
    LOANS = "loans", "Loans"
    FUNDING = "funding", "Funding"
    PAYMENTS = "payments", "Payments"
    CREDENTIAL_STATUS = "credential_status", "Credential status"


class LogQuerySet(models.QuerySet):
    def own(self) -> LogQuerySet:
        """The logs this node writes (one per Book), not the ones it follows."""
        return self.filter(writer=True)


class Log(models.Model):
    """One signed append-only log: this node's own books, which it writes, and the books of other
    nodes it follows (replicates and verifies), which it only stores and serves."""

    # Own logs: a Book value, one log each. Followed logs: the kind their publisher announced.
    book = models.CharField(max_length=32, choices=Book.choices)
    writer = models.BooleanField(default=True)
    key = models.BinaryField(max_length=32, unique=True)
    discovery_key = models.BinaryField(max_length=32, unique=True)
    public_key = models.BinaryField(max_length=32)
    # The Ed25519 secret key, sealed with the node master key (apps.ledger.sealing); empty for
    # a followed log.
    sealed_secret_key = models.BinaryField(default=b"")
    # Head: what the latest signature covers.
    length = models.BigIntegerField(default=0)
    byte_length = models.BigIntegerField(default=0)
    fork = models.BigIntegerField(default=0)
    tree_hash = models.BinaryField(max_length=32)
    signature = models.BinaryField(max_length=68, default=b"")
    # The head's roots (hypercore.tree.pack_roots), so an append reads them with its row lock.
    roots = models.BinaryField(default=b"")
    created_at = models.DateTimeField(default=timezone.now)

    objects = LogQuerySet.as_manager()

    class Meta:
        ordering = ["book"]
        constraints = [
            models.UniqueConstraint(
                fields=["book"], condition=models.Q(writer=True), name="one_own_log_per_book"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_book_display()} ({self.length} blocks)"

    @property
    def core_keys(self) -> LogKeys:
        # Every Growr book is a manifest-keyed core, as Corestore opens them.
        return LogKeys.for_public_key(bytes(self.public_key), Mode.MANIFEST)


class Block(models.Model):
    """Block i of a log, with the Merkle tree nodes that appending it created.

    `nodes` is its record (hypercore.tree.NODE_RECORD, 40 bytes each): the leaf 2i, then each
    parent whose rightmost leaf is 2i, by depth. Every node of the tree lives in exactly one
    record, so a node is found by its block (hypercore.tree.node_location), and an append writes
    one row per block instead of one per block and one per node.
    """

    # (log, index) is the key: one B-tree per table keeps bulk appends fast.
    pk = models.CompositePrimaryKey("log", "index")
    # The key's leading column serves lookups by log: no second index to maintain per append.
    log = models.ForeignKey(Log, on_delete=models.PROTECT, related_name="blocks", db_index=False)
    index = models.BigIntegerField()
    data = models.BinaryField()
    nodes = models.BinaryField()

    def __str__(self) -> str:
        return f"block {self.index}"


class SignedHead(models.Model):
    """Every head the writer signed: readers verify ranges against any of them."""

    # head_log_fork_length serves lookups by log.
    log = models.ForeignKey(Log, on_delete=models.PROTECT, related_name="heads", db_index=False)
    length = models.BigIntegerField()
    fork = models.BigIntegerField()
    tree_hash = models.BinaryField(max_length=32)
    signature = models.BinaryField(max_length=68)
    signed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["log", "fork", "length"], name="head_log_fork_length")
        ]

    def __str__(self) -> str:
        return f"head {self.length}@{self.fork}"


class OutboxEntry(models.Model):
    """An entry committed with the business change that caused it, waiting to be appended.

    Rows are inserted inside the publishing app's transaction, so a rolled-back change leaves
    none and a committed one always leaves one; the publisher appends them in id order, which
    is commit order because publishers of one book hold its log row lock until they commit.
    """

    book = models.CharField(max_length=32, choices=Book.choices)
    key = models.CharField(max_length=200)
    entry_type = models.CharField(max_length=64)
    data = models.BinaryField()
    created_at = models.DateTimeField(default=timezone.now)
    block_index = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["book", "id"],
                condition=models.Q(block_index__isnull=True),
                name="outbox_pending",
            )
        ]

    def __str__(self) -> str:
        return f"{self.book}/{self.key} → block {self.block_index}"


class BookEntry(models.Model):
    """Index of a book: which key each block wrote. Rebuilt from the log alone on demand."""

    log = models.ForeignKey(Log, on_delete=models.PROTECT, related_name="entries")
    block_index = models.BigIntegerField()
    key = models.CharField(max_length=200)
    entry_type = models.CharField(max_length=64)
    is_deletion = models.BooleanField(default=False)

    class Meta:
        ordering = ["block_index"]
        constraints = [
            models.UniqueConstraint(fields=["log", "block_index"], name="bookentry_log_block")
        ]
        indexes = [models.Index(fields=["log", "key", "block_index"], name="bookentry_key_history")]

    def __str__(self) -> str:
        return f"block {self.block_index}: {self.key}"


class BookKey(models.Model):
    """The key/value view of a book: the latest block of every key."""

    log = models.ForeignKey(Log, on_delete=models.PROTECT, related_name="keys")
    key = models.CharField(max_length=200)
    block_index = models.BigIntegerField()
    is_deleted = models.BooleanField(default=False)

    class Meta:
        ordering = ["key"]
        constraints = [models.UniqueConstraint(fields=["log", "key"], name="bookkey_log_key")]

    def __str__(self) -> str:
        return f"{self.key} → block {self.block_index}"


class FollowState(models.TextChoices):
    ACTIVE = "active", "Following"
    PAUSED = "paused", "Paused"
    # Two valid signatures for one length: the writer forked; nothing more is taken from it.
    FROZEN = "frozen", "Frozen (fork)"


class Follow(models.Model):
    """This node follows LOG, a book another node writes: it pulls new blocks from the sources,
    verifies them against the writer's key and stores them (apps.ledger.replication).

    Blocks are verified and stored a batch at a time, each batch proven by an upgrade to the
    source's newest signed head, so `verified_length` (and its roots) may run ahead of the
    log's head until the pull reaches a length the writer signed; readers only ever see the log
    up to its signed head."""

    log = models.OneToOneField(Log, on_delete=models.PROTECT, related_name="follow")
    # The node that announced the book (discovery), if known.
    publisher = models.BinaryField(max_length=32, null=True, blank=True)
    # Who chose to follow it; empty when this node followed it by itself (an investor node).
    chosen_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    state = models.CharField(max_length=8, choices=FollowState.choices, default=FollowState.ACTIVE)
    verified_length = models.BigIntegerField(default=0)
    verified_byte_length = models.BigIntegerField(default=0)
    verified_roots = models.BinaryField(default=b"")
    # The longest head a source proved (signature checked): how far behind this copy is.
    remote_length = models.BigIntegerField(default=0)
    # Blocks the key/value index covers: derived from stored blocks, after the pull.
    indexed_length = models.BigIntegerField(default=0)
    # A sparse follow keeps only this many of the newest blocks, or only blocks [range_start,
    # range_end), each verified with its own proof; all empty for a full copy, which keeps and
    # serves every block.
    keep_latest = models.PositiveIntegerField(null=True, blank=True)
    range_start = models.BigIntegerField(null=True, blank=True)
    range_end = models.BigIntegerField(null=True, blank=True)

    last_synced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"follow of {self.log.book} {bytes(self.log.key).hex()[:16]}"

    @property
    def sparse(self) -> bool:
        return bool(self.keep_latest) or self.range_start is not None

    def window(self, length: int) -> tuple[int, int]:
        """The blocks a sparse follow keeps of a book of LENGTH blocks."""
        if self.keep_latest:
            return max(0, length - self.keep_latest), length
        return min(self.range_start, length), min(self.range_end, length)


class FollowSource(models.Model):
    """A node that serves a followed book: the base URL of its public read API. A source that
    fails loses score and waits (backoff) before it is asked again."""

    follow = models.ForeignKey(Follow, on_delete=models.CASCADE, related_name="sources")
    url = models.URLField(max_length=256)
    score = models.IntegerField(default=100)
    failures = models.PositiveIntegerField(default=0)
    next_try_at = models.DateTimeField(default=timezone.now)
    last_ok_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-score", "url"]
        constraints = [models.UniqueConstraint(fields=["follow", "url"], name="one_source_per_url")]

    def __str__(self) -> str:
        return f"{self.url} (score {self.score})"


class ReplicationFault(models.TextChoices):
    UNREACHABLE = "unreachable", "Unreachable or timed out"
    MALFORMED = "malformed", "Malformed or oversized response"
    WRONG_KEY = "wrong_key", "Another book's key or writer"
    BAD_SIGNATURE = "bad_signature", "Bad signature"
    BAD_PROOF = "bad_proof", "Blocks or proof do not match the signed head"
    SHORTER_HEAD = "shorter_head", "A head shorter than one already verified"
    FORK = "fork", "Two signed heads for one length (fork)"


class ReplicationEvent(models.Model):
    """Something a source did wrong, kept with the source and the reason."""

    follow = models.ForeignKey(Follow, on_delete=models.CASCADE, related_name="events")
    source = models.ForeignKey(FollowSource, null=True, on_delete=models.SET_NULL)
    url = models.URLField(max_length=256)
    fault = models.CharField(max_length=16, choices=ReplicationFault.choices)
    detail = models.CharField(max_length=500)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.get_fault_display()} from {self.url}"


class ForkEvidence(models.Model):
    """Two valid signatures by one writer for one length with different trees: proof that the
    writer forked its log, kept for anyone to check."""

    follow = models.ForeignKey(Follow, on_delete=models.CASCADE, related_name="forks")
    length = models.BigIntegerField()
    ours = models.JSONField()  # {"fork", "tree_hash", "signature"} as hex
    theirs = models.JSONField()
    url = models.URLField(max_length=256)
    at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"fork at length {self.length}"
