"""Forms of the originator staff's funding pages. They check the shape of the input; the
services check it against the commitment and decide (who may confirm, a reference used
already)."""

from __future__ import annotations

from django import forms


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
