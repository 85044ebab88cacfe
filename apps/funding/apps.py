from django.apps import AppConfig


class FundingConfig(AppConfig):
    name = "apps.funding"
    label = "funding"
    verbose_name = "Funding: investors, commitments, distributions and returns"

    def ready(self) -> None:
        from apps.applications.signals import loan_written_off, repayment_applied
        from apps.ledger.signals import book_entries_indexed
        from apps.projects.signals import project_closed

        from . import receivers

        project_closed.connect(receivers.project_closed, dispatch_uid="funding-project-closed")
        repayment_applied.connect(receivers.repayment_applied, dispatch_uid="funding-repayment")
        loan_written_off.connect(receivers.loan_written_off, dispatch_uid="funding-loss")
        book_entries_indexed.connect(
            receivers.book_entries_indexed, dispatch_uid="funding-remote-news"
        )
