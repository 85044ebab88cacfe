from django.core.management.base import BaseCommand, CommandError

from apps.ledger.sealing import UnsealError, reseal_all


class Command(BaseCommand):
    help = (
        "Seal every private key anew under the current GROWR_MASTER_KEY (after a rotation, with "
        "the old key in GROWR_MASTER_KEYS_PREVIOUS). Nothing changes if one cannot be unsealed."
    )

    def handle(self, *args, **options):
        try:
            moved = reseal_all()
        except UnsealError as exc:
            raise CommandError(f"{exc}; is the old key in GROWR_MASTER_KEYS_PREVIOUS?") from exc
        for model, count in moved.items():
            self.stdout.write(f"{model}: {count} resealed")
