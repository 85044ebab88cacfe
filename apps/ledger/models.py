"""Storage of the public books: Hypercore-compatible signed logs in the node's database.

A `Log` is one Hypercore (its key, its signing key sealed under the node master key, and its
current signed head). Its blocks (each with the tree nodes it created) and every signed head are
rows keyed by log and index, so reading block i with its proof is an index lookup, not a scan.
"""

from __future__ import annotations

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


class Log(models.Model):
    """One signed append-only log. This node writes the logs of its own books."""

    book = models.CharField(max_length=32, choices=Book.choices, unique=True)
    key = models.BinaryField(max_length=32, unique=True)
    discovery_key = models.BinaryField(max_length=32, unique=True)
    public_key = models.BinaryField(max_length=32)
    # The Ed25519 secret key, sealed with the node master key (apps.ledger.sealing).
    sealed_secret_key = models.BinaryField()
    # Head: what the latest signature covers.
    length = models.BigIntegerField(default=0)
    byte_length = models.BigIntegerField(default=0)
    fork = models.BigIntegerField(default=0)
    tree_hash = models.BinaryField(max_length=32)
    signature = models.BinaryField(max_length=68, default=b"")
    # The head's roots (hypercore.tree.pack_roots), so an append reads them with its row lock.
    roots = models.BinaryField(default=b"")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["book"]

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
