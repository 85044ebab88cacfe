"""The durable side of discovery: every peer this node has heard of, as a cache for restarts and
pages. The agent's memory is the live view (gossip/membership.py); this table never decides."""

from __future__ import annotations

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

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_status_display()})"
