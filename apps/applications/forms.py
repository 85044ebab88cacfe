"""Forms of the originator staff's loan pages. They check the shape of the input (a number, a
date, one of the rails); the services check it against the loan and decide (an amount's decimals
for its currency, a date not in the future, who may do what)."""

from __future__ import annotations

from django import forms
from django.utils import timezone

from apps.node.widgets import QuickSelect
from apps.projects.forms import CURRENCY_CHOICES, DateInput

from .models import Rail
from .selectors import QUEUE_FILTERS

MAX_SEARCH_CHARS = 100


def _amount(label: str, *, required: bool = True, help_text: str = "") -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        required=required,
        max_digits=18,
        decimal_places=3,
        help_text=help_text,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )


def _reference(label: str = "Payment reference") -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=120,
        help_text="As the rail shows it (an M-Pesa code, a bank reference, a receipt number).",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )


def _reason(label: str, max_length: int = 300) -> forms.CharField:
    return forms.CharField(label=label, max_length=max_length)


def _rail(label: str) -> forms.ChoiceField:
    return forms.ChoiceField(label=label, choices=[("", "Choose a rail"), *Rail.choices])


class LoanQueueFilterForm(forms.Form):
    """The queue's filters: which queue, which project, and a borrower or a loan reference."""

    state = forms.ChoiceField(
        label="Queue", required=False, choices=list(QUEUE_FILTERS.items()), widget=QuickSelect
    )
    project = forms.ChoiceField(
        label="Project",
        required=False,
        widget=QuickSelect,
        help_text="The newest projects; a project's own page links to all of its loans.",
    )
    q = forms.CharField(
        label="Borrower or reference",
        required=False,
        max_length=MAX_SEARCH_CHARS,
        help_text="Name, e-mail, or a reference such as L-000123.",
    )

    def __init__(self, *args, projects, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["project"].choices = [("", "All projects")] + [
            (str(pk), name) for pk, name in projects
        ]

    def filters(self) -> dict:
        """The valid filters only: a wrong value in the address filters nothing."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {
            "state": data.get("state") or "",
            "project_id": data.get("project") or None,
            "search": data.get("q") or "",
        }


class LoanMessageForm(forms.Form):
    body = forms.CharField(
        label="Message to the borrower",
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class InformationRequestForm(forms.Form):
    question = forms.CharField(
        label="What do you need from the borrower?",
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="The application waits for their answer; they see this in their messages.",
    )


class RejectionForm(forms.Form):
    reason = _reason("Reason, for the borrower", max_length=500)


class DisbursementForm(forms.Form):
    rail = _rail("Sent by")
    reference = _reference()
    disbursed_on = forms.DateField(label="Sent on", widget=DateInput())

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {"disbursed_on": timezone.localdate()})
        super().__init__(*args, **kwargs)


class RepaymentRecordForm(forms.Form):
    amount = _amount("Amount received")
    reference = _reference()
    rail = _rail("Paid by")
    paid_on = forms.DateField(label="Paid on", widget=DateInput())

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {"paid_on": timezone.localdate()})
        super().__init__(*args, **kwargs)


class RepaymentRefusalForm(forms.Form):
    reason = _reason("Why it is refused")


class OverpaymentRefundForm(forms.Form):
    rail = _rail("Refunded by")
    reference = _reference("Refund reference")


class WriteOffForm(forms.Form):
    reason = _reason("Why the loan is written off")


class ApprovalLimitForm(forms.Form):
    currency = forms.ChoiceField(label="Currency", choices=CURRENCY_CHOICES)
    amount = _amount(
        "Second approval above",
        required=False,
        help_text="Applications above this amount need two different staff members' approvals. "
        "Leave it empty to remove the limit.",
    )
