from django.apps import AppConfig


class ApplicationsConfig(AppConfig):
    name = "apps.applications"
    label = "applications"
    verbose_name = "Applications: loan applications, agreements and loans"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from apps.funding.models import Commitment
        from apps.identity.models import CredentialRecord, StaffInvitation, User
        from apps.projects.models import Project

        from . import receivers
        from .models import Loan

        # What the staff pages kept per organization show (selectors.kept_for_organization).
        for model in (Loan, Project, Commitment, CredentialRecord, User, StaffInvitation):
            name = model._meta.label_lower
            post_save.connect(
                receivers.staff_pages_changed,
                sender=model,
                dispatch_uid=f"staff-pages-{name}-saved",
            )
            post_delete.connect(
                receivers.staff_pages_changed,
                sender=model,
                dispatch_uid=f"staff-pages-{name}-deleted",
            )
