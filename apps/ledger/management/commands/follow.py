"""`manage.py follow KEY URL`: follow another node's book from the command line (what staff do on
the Network and Following pages), and with --pull bring it up to date at once."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from apps.ledger.follow_services import BATCH_BLOCKS, follow_pull, follow_start


class Command(BaseCommand):
    help = "Follow the book KEY (64 hex characters) served by the node at URL."

    def add_arguments(self, parser) -> None:
        parser.add_argument("key", help="the book's key, 64 hex characters")
        parser.add_argument("url", help="base URL of a node serving it, e.g. https://node.example")
        parser.add_argument("--kind", default="projects", help="which book it is (projects…)")
        parser.add_argument("--pull", action="store_true", help="pull it now, verifying it")
        parser.add_argument("--batch", type=int, default=BATCH_BLOCKS, help="blocks per request")

    def handle(self, *args, key: str, url: str, kind: str, pull: bool, batch: int, **options):
        try:
            follow = follow_start(key=bytes.fromhex(key), kind=kind, sources=[url])
        except ValueError:
            raise CommandError("KEY must be 64 hex characters") from None
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        self.stdout.write(f"following {kind} {key[:16]}… from {url}")
        if not pull:
            return
        result = follow_pull(follow_id=follow.pk, batch_blocks=max(1, batch))
        if result.problem and not result.stored:
            raise CommandError(f"nothing pulled: {result.problem}")
        self.stdout.write(f"pulled {result.stored} block(s); the book is at {result.length}")
