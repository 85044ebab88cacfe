"""Create the demo data of a profile (people, credentials, projects) and print their logins."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.node.demo import DEMO_PASSWORD, PROFILES, demo_data_ensure


class Command(BaseCommand):
    help = "Create demo accounts (idempotent) and print their logins. Refused in production."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--profile",
            choices=sorted(PROFILES),
            default="kijani",
            help="kijani: an originator with a loan and its funders (default); sahel: a second "
            "originator; investor: an investor's own node",
        )

    def handle(self, *args, profile: str, **options) -> None:
        if not settings.GROWR_DEMO_DATA_ALLOWED:
            raise CommandError(
                "Demo accounts share a published password; these settings do not allow them."
            )
        logins = demo_data_ensure(profile)
        base = settings.GROWR_PUBLIC_URL.rstrip("/")
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        for login in logins:
            state = "created" if login.created else "exists"
            self.stdout.write(
                f"  {login.role:<17} {login.email:<32} {base}{login.portal}  ({state})"
            )
