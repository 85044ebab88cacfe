from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "apps.identity"
    label = "identity"
    verbose_name = "Identity: people, organizations and roles"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from apps.ledger.signals import book_entries_indexed

        from .models import Organization, User
        from .receivers import organization_changed, status_lists_indexed, user_changed

        book_entries_indexed.connect(status_lists_indexed, dispatch_uid="identity-status-lists")
        post_save.connect(user_changed, sender=User, dispatch_uid="identity-user-saved")
        post_delete.connect(user_changed, sender=User, dispatch_uid="identity-user-deleted")
        post_save.connect(
            organization_changed, sender=Organization, dispatch_uid="identity-organization-saved"
        )
        post_delete.connect(
            organization_changed, sender=Organization, dispatch_uid="identity-organization-deleted"
        )
