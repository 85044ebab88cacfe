"""`manage.py follow KEY URL`: follow another node's book from the command line (what staff do on
the Network and Following pages), and with --pull bring it up to date at once."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from apps.ledger.follow_services import BATCH_BLOCKS, follow_index, follow_pull, follow_start
from apps.ledger.replication import HttpSource, ReplicationError

WATCH_RETRY_SECONDS = 5


class Command(BaseCommand):
    help = "Follow the book KEY (64 hex characters) served by the node at URL."

    def add_arguments(self, parser) -> None:
        parser.add_argument("key", help="the book's key, 64 hex characters")
        parser.add_argument("url", help="base URL of a node serving it, e.g. https://node.example")
        parser.add_argument("--kind", default="projects", help="which book it is (projects…)")
        parser.add_argument("--pull", action="store_true", help="pull it now, verifying it")
        parser.add_argument("--batch", type=int, default=BATCH_BLOCKS, help="blocks per request")
        parser.add_argument(
            "--latest",
            type=int,
            metavar="N",
            help="a sparse follow: keep only the newest N blocks (at most 1000)",
        )
        parser.add_argument(
            "--range",
            metavar="START:END",
            help="a sparse follow: keep only blocks START to END (END excluded, at most 1000)",
        )
        parser.add_argument(
            "--watch",
            action="store_true",
            help="keep it up to date: long-poll the source and pull each new append (Ctrl-C ends)",
        )

    def handle(self, *args, key: str, url: str, kind: str, pull: bool, batch: int, **options):
        try:
            follow = follow_start(
                key=bytes.fromhex(key),
                kind=kind,
                sources=[url],
                keep_latest=options["latest"],
                block_range=_block_range(options["range"]),
            )
        except ValueError:
            raise CommandError("KEY must be 64 hex characters, --range START:END") from None
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        self.stdout.write(f"following {kind} {key[:16]}… from {url}")
        if options["watch"]:
            self._watch(follow, url, max(1, batch))
        elif pull:
            result = follow_pull(follow_id=follow.pk, batch_blocks=max(1, batch))
            if result.problem and not result.stored:
                raise CommandError(f"nothing pulled: {result.problem}")
            follow_index(follow_id=follow.pk)
            self.stdout.write(f"pulled {result.stored} block(s); the book is at {result.length}")

    def _watch(self, follow, url: str, batch: int) -> None:
        source = HttpSource(url, allow_private=settings.GROWR_FOLLOW_PRIVATE_SOURCES)
        key = bytes(follow.log.key)
        try:
            while True:
                result = follow_pull(follow_id=follow.pk, batch_blocks=batch)
                follow_index(follow_id=follow.pk)
                self.stdout.write(
                    f"pulled {result.stored} block(s); the book is at {result.length}"
                )
                self.stdout.flush()
                try:
                    source.wait_head(key, after=result.length)
                except ReplicationError as error:
                    self.stderr.write(f"waiting for news failed ({error.detail}); retrying")
                    time.sleep(WATCH_RETRY_SECONDS)
        except KeyboardInterrupt:
            self.stdout.write("stopped watching")
        finally:
            source.close()


def _block_range(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    start, _, end = text.partition(":")
    return int(start), int(end)
