"""Create the demo originator, staff, borrowers and investors, and print their logins."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.node.demo import DEMO_PASSWORD, demo_data_ensure


class Command(BaseCommand):
    help = "Create demo accounts (idempotent) and print their logins. Refused in production."

    def handle(self, *args, **options) -> None:
        if not settings.GROWR_DEMO_DATA_ALLOWED:
            raise CommandError(
                "Demo accounts share a published password; these settings do not allow them."
            )
        logins = demo_data_ensure()
        base = settings.GROWR_PUBLIC_URL.rstrip("/")
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        for login in logins:
            state = "created" if login.created else "exists"
            self.stdout.write(
                f"  {login.role:<17} {login.email:<32} {base}{login.portal}  ({state})"
            )
