from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class LedgerConfig(AppConfig):
    name = "apps.ledger"
    label = "ledger"
    verbose_name = "Ledger: public books as Hypercore-compatible signed logs"

    def ready(self) -> None:
        from . import receivers
        from .models import Log

        post_save.connect(receivers.log_changed, sender=Log, dispatch_uid="ledger-log-saved")
        post_delete.connect(receivers.log_changed, sender=Log, dispatch_uid="ledger-log-deleted")
