"""Reads of the investor portal: the network's projects as this node holds them."""

from __future__ import annotations

import uuid
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
    page_url: str  # the project's page on its origin node


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
    base = url.rstrip("/")
    # The entry as its origin serves it, with the proofs anyone can check.
    record = f"{base}/api/books/{project.book_key}/entry/?key={project.entry_key}"
    # Built from the origin's address (signed in its node record) and the project's id, never
    # from a URL inside the entry: a writer cannot point investors elsewhere.
    page = f"{base}/projects/{project_id}/" if (project_id := _uuid(project.value)) else ""
    return CatalogueProject(project, name, url, record if url else "", page if url else "")


def _uuid(value: dict) -> str:
    try:
        return str(uuid.UUID(str(value.get("project"))))
    except ValueError:
        return ""
