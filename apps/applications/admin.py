"""The node operator sees loans and payments read only; every change goes through the staff
pages and their services (a change here would skip the lifecycle, the audit and the books)."""

from django.contrib import admin

from .models import Loan, Repayment


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Loan)
class LoanAdmin(ReadOnlyAdmin):
    list_display = ["reference", "organization", "project", "status", "amount", "currency",
                    "arrears_bucket", "submitted_at"]  # fmt: skip
    list_filter = ["status", "arrears_bucket", "organization", "currency"]
    list_select_related = ["organization", "project"]
    search_fields = ["public_id", "borrower__email"]
    exclude = ["purpose", "eligibility"]  # the borrower's words and claims stay with the staff


@admin.register(Repayment)
class RepaymentAdmin(ReadOnlyAdmin):
    list_display = ["reference", "loan", "amount", "paid_on", "status", "created_at"]
    list_filter = ["status", "rail"]
    list_select_related = ["loan"]
    search_fields = ["reference", "public_id"]
