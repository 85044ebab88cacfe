"""Reads of discovery: the peer table as pages and the agent need it."""

from __future__ import annotations

from django.conf import settings

from .gossip.transport import Address, parse_address
from .models import Peer, PeerStatus, Seed


def gossip_seed_addresses(*, recent_peers: int = 16) -> list[Address]:
    """Where to join: the configured seeds, the seeds staff added, and the peers most recently
    seen alive, so a restarted node finds its network even when every seed is down."""
    configured = [parse_address(text) for text in settings.GROWR_GOSSIP_SEEDS]
    added = [(s.host, s.port) for s in Seed.objects.all()]
    peers = Peer.objects.filter(status=PeerStatus.ALIVE).order_by("-last_seen")[:recent_peers]
    remembered = [(p.gossip_host, p.gossip_port) for p in peers]
    return list(dict.fromkeys([*configured, *added, *remembered]))
