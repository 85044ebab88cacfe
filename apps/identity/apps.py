from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "apps.identity"
    label = "identity"
    verbose_name = "Identity: people, organizations and roles"

    def ready(self) -> None:
        from apps.ledger.signals import book_entries_indexed

        from .receivers import status_lists_indexed

        book_entries_indexed.connect(status_lists_indexed, dispatch_uid="identity-status-lists")
