"""Forms of the invitation pages, investors' and staff's. They check the shape of the input; the
services decide what is allowed and say why not."""

from __future__ import annotations

from django import forms

from apps.identity.credential_selectors import CreditRecordEntry

from .models import InvitationStatus
from .services import NOTE_LENGTH, REASON_LENGTH


class InvitationRequestForm(forms.Form):
    """An investor asks for an invitation: a note and, if they hold one, a KYC credential to
    show the originator's staff."""

    note = forms.CharField(
        label="A note for the originator (optional)",
        required=False,
        max_length=NOTE_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": NOTE_LENGTH}),
        help_text="Who you are, how much you think of putting in: what helps them decide.",
    )
    kyc_credential = forms.ChoiceField(
        label="Show your identity check",
        required=False,
        widget=forms.RadioSelect,
        help_text="The originator's staff see the claims of the KYC credential you choose, "
        "with your request.",
    )

    def __init__(self, *args, kyc: list[CreditRecordEntry], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kyc_credential"].choices = [("", "Do not show a credential")] + [
            (
                str(entry.record.pk),
                f"KYC issued by {entry.issuer_name} on {entry.record.valid_from:%Y-%m-%d}",
            )
            for entry in kyc
        ]
        if not kyc:
            del self.fields["kyc_credential"]


class CloseForm(forms.Form):
    """Withdraw (the investor) or decline (staff) with an optional reason."""

    reason = forms.CharField(
        label="Why (optional)",
        required=False,
        max_length=REASON_LENGTH,
        widget=forms.TextInput(attrs={"maxlength": REASON_LENGTH}),
    )


class InviteForm(forms.Form):
    """Staff invite an investor account by its e-mail address to one of their invite-only
    projects."""

    project = forms.ChoiceField(label="Project")
    email = forms.EmailField(
        label="Investor's e-mail",
        max_length=254,
        help_text="The e-mail address the investor signs in with on this node.",
    )

    def __init__(self, *args, projects, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["project"].choices = [(str(p.pk), p.name) for p in projects]


STATUS_FILTERS = [("", "Any status"), *InvitationStatus.choices]


class InvitationFilterForm(forms.Form):
    status = forms.ChoiceField(label="Status", required=False, choices=STATUS_FILTERS)

    def filters(self) -> dict[str, str]:
        """The valid filters only: a wrong value in the address filters nothing."""
        self.is_valid()
        return {"status": getattr(self, "cleaned_data", {}).get("status") or ""}
