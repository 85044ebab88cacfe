"""The durable side of discovery: every peer this node has heard of, as a cache for restarts and
pages. The agent's memory is the live view (gossip/membership.py); this table never decides."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from .gossip.claims import Role, Status


class PeerStatus(models.IntegerChoices):
    ALIVE = Status.ALIVE, "alive"
    SUSPECT = Status.SUSPECT, "suspect"
    DEAD = Status.DEAD, "dead"
    LEFT = Status.LEFT, "left"


class Peer(models.Model):
    """A node's latest verified record and the latest state heard about it. Writes go through
    apps.discovery.services, which never lowers a record's seq or a state's (incarnation,
    status)."""

    node_id = models.BinaryField(primary_key=True, max_length=32)
    public_key = models.BinaryField(max_length=32)
    seq = models.BigIntegerField()
    # The signed record exactly as received, relayed to others unchanged.
    record = models.BinaryField(max_length=1024)
    role = models.CharField(max_length=16, choices=[(r.value, r.value) for r in Role])
    name = models.CharField(max_length=64)
    url = models.URLField(max_length=256)
    gossip_host = models.CharField(max_length=253)
    gossip_port = models.PositiveIntegerField()
    books = models.JSONField(default=list)
    status = models.SmallIntegerField(choices=PeerStatus.choices, default=PeerStatus.ALIVE)
    incarnation = models.BigIntegerField(default=0)
    first_seen = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)
    # The latest direct probe this node's agent saw answered.
    round_trip_ms = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_status_display()})"


class NodeIdentity(models.Model):
    """This node's gossip identity, one row: its Ed25519 key sealed under GROWR_MASTER_KEY, the
    incarnation it last started with (each start raises it, so a restarted node outranks the
    death others recorded) and the seq of its latest signed record (never reused). The agent
    writes its status here every flush: the Network page's heartbeat."""

    singleton = models.BooleanField(primary_key=True, default=True, editable=False)
    sealed_seed = models.BinaryField()
    public_key = models.BinaryField(max_length=32)
    incarnation = models.BigIntegerField(default=0)
    record_seq = models.BigIntegerField(default=0)
    record = models.BinaryField(default=b"")
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    health = models.PositiveSmallIntegerField(default=0)
    counters = models.JSONField(default=dict)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(singleton=True), name="one_node_identity")
        ]

    def __str__(self) -> str:
        return f"node identity (incarnation {self.incarnation}, record seq {self.record_seq})"


class Seed(models.Model):
    """A gossip address staff added to join through, beside GROWR_GOSSIP_SEEDS."""

    host = models.CharField(max_length=253)
    port = models.PositiveIntegerField()
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["host", "port"]
        constraints = [models.UniqueConstraint(fields=["host", "port"], name="unique_seed")]

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


class Ban(models.Model):
    """A node this node will not talk to or hear about, by an admin's decision: its handshakes
    are refused and every record and claim from or about it is ignored."""

    node_id = models.BinaryField(primary_key=True, max_length=32)
    reason = models.CharField(max_length=200)
    banned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    banned_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-banned_at"]

    def __str__(self) -> str:
        return f"ban of {bytes(self.node_id).hex()[:16]}: {self.reason}"
