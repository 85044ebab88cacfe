"""Hypercore interoperability tools. `hypercore check-vectors FILE` replays a vectors file made by
the real hypercore npm package and compares every key, hash, signature and proof byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.ledger.hypercore.vectors import VectorMismatch, check_vectors


class Command(BaseCommand):
    help = "Hypercore interoperability tools (check-vectors FILE)."

    def add_arguments(self, parser) -> None:
        commands = parser.add_subparsers(dest="action", required=True)
        check = commands.add_parser(
            "check-vectors", help="replay a hypercore@11 vectors file and compare byte for byte"
        )
        check.add_argument("file", type=Path)

    def handle(self, *args, action: str, file: Path, **options) -> None:
        try:
            data = json.loads(file.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CommandError(f"cannot read {file}: {exc}") from exc
        self.stdout.write(f"Vectors by {data.get('generator', 'an unnamed generator')}")
        count = 0
        try:
            for line in check_vectors(data):
                count += 1
                self.stdout.write(f"  ok  {line.removesuffix(' ok')}")
        except VectorMismatch as exc:
            raise CommandError(f"MISMATCH after {count} checks: {exc}") from exc
        self.stdout.write(self.style.SUCCESS(f"{count} checks passed"))
