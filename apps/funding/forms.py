"""Forms of the funding pages: the investor's (commit, statements) and the staff's (confirm
funds, record refunds). They check the shape of the input; the services decide what is allowed
and say why not."""

from __future__ import annotations

import calendar
from datetime import date

from django import forms


class CommitForm(forms.Form):
    """An amount to commit to a project. The page's request id, which makes a double submit or
    a retry the same commitment, travels beside it as a hidden input of its own."""

    amount = forms.DecimalField(
        max_digits=18, decimal_places=3, widget=forms.TextInput(attrs={"inputmode": "decimal"})
    )

    def __init__(self, *args, currency: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["amount"].label = f"Amount ({currency})"


def this_month(today: date) -> tuple[date, date]:
    last = calendar.monthrange(today.year, today.month)[1]
    return today.replace(day=1), today.replace(day=last)


class StatementForm(forms.Form):
    currency = forms.ChoiceField(label="Currency")
    start = forms.DateField(
        label="From", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    end = forms.DateField(
        label="To", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )

    def __init__(self, data=None, *, currencies: list[str], today: date) -> None:
        start, end = this_month(today)
        initial = {"currency": currencies[0] if currencies else "", "start": start, "end": end}
        super().__init__(data, initial=initial)
        self.fields["currency"].choices = [(c, c) for c in currencies]

    def clean(self) -> dict:
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end and start > end:
            self.add_error("end", "The end comes on or after the start.")
        return data

    def period(self) -> tuple[str, date, date]:
        """The currency and dates asked for: the form's, or its defaults when not sent."""
        if self.is_bound:
            data = self.cleaned_data
            return data["currency"], data["start"], data["end"]
        return self.initial["currency"], self.initial["start"], self.initial["end"]


def _reference(label: str, help_text: str) -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=120,
        help_text=help_text,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )


class CommitmentConfirmForm(forms.Form):
    reference = _reference(
        "Payment reference",
        "Of the investor's transfer, as your bank or mobile money statement shows it.",
    )


class CommitmentRefundForm(forms.Form):
    reference = _reference(
        "Refund reference", "Of the transfer that sent the money back to the investor."
    )
