"""Reads of the investor portal: the network's projects as this node holds them."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from apps.discovery.models import Peer
from apps.ledger.selectors import PublishedProject, published_projects

CATALOGUE_PAGE = 25


@dataclass(frozen=True)
class CatalogueProject:
    project: PublishedProject
    origin_name: str
    origin_url: str
    record_url: str


def network_catalogue(*, page: int) -> tuple[list[CatalogueProject], int]:
    """One page of projects from this node's own projects book and every followed one, with
    the node each comes from; four queries whatever the page holds."""
    projects, total = published_projects(offset=(page - 1) * CATALOGUE_PAGE, limit=CATALOGUE_PAGE)
    publishers = {p.publisher for p in projects if p.publisher}
    peers = {bytes(p.node_id): p for p in Peer.objects.filter(node_id__in=publishers)}
    return [_entry(project, peers) for project in projects], total


def _entry(project: PublishedProject, peers: dict) -> CatalogueProject:
    if project.own:
        name, url = settings.GROWR_NODE_NAME, settings.GROWR_PUBLIC_URL
    else:
        peer = peers.get(project.publisher)
        name = peer.name if peer else "a followed node"
        url = peer.url if peer else project.source_url or ""
    # The entry as its origin serves it, with the proofs anyone can check.
    record = f"{url.rstrip('/')}/api/books/{project.book_key}/entry/?key={project.entry_key}"
    return CatalogueProject(project, name, url, record if url else "")
