"""Check (or rebuild) each book's key/value index against what its log alone says."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from apps.ledger.models import Log
from apps.ledger.services import book_index_rebuild


class Command(BaseCommand):
    help = (
        "Compare every book's key/value index with one derived from its blocks; --rebuild fixes it."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--rebuild", action="store_true", help="replace a differing index")

    def handle(self, *args, rebuild: bool, **options) -> None:
        broken = 0
        for log in Log.objects.order_by("book"):
            differences = book_index_rebuild(log=log, apply=rebuild)
            state = "ok" if not differences else ("rebuilt" if rebuild else "DIFFERS")
            self.stdout.write(f"{log.book}: {log.length} blocks, index {state}")
            for line in differences:
                self.stdout.write(f"  {line}")
            broken += bool(differences)
        if broken and not rebuild:
            raise CommandError(
                f"{broken} book index(es) differ from their logs; run with --rebuild"
            )
