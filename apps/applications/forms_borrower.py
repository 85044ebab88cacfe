"""Forms of the borrower's loan pages and of the public agreement verification. They check the
shape of the input; the services decide what is allowed and say why not."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from django import forms

from apps.identity.ssi.credential_types import CREDENTIAL_TYPES

from .models import Rail

# A presentation carries at most ten credentials; an agreement file is a document of at most
# 512 KB with two short signatures.
MAX_ENVELOPE_BYTES = 1024 * 1024
MAX_AGREEMENT_BYTES = 1024 * 1024
MAX_JSON_DEPTH = 32
_MB = "1 MB"


def credential_field(slug: str) -> str:
    return f"credential_{slug}"


def json_depth_within(value: object, limit: int) -> bool:
    """Whether VALUE nests no deeper than LIMIT (counted without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return False
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return True


def parse_json(text: str, *, what: str) -> object:
    """TEXT as JSON, refused with a message a person understands: not JSON, nested too deeply,
    or holding text that is not valid Unicode."""
    try:
        value = json.loads(text)
    except RecursionError as exc:
        raise forms.ValidationError(f"This {what} is nested too deeply.") from exc
    except json.JSONDecodeError as exc:
        raise forms.ValidationError(
            f"This {what} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
        ) from exc
    except ValueError as exc:  # e.g. an integer of more digits than Python reads
        raise forms.ValidationError(f"This {what} is not valid JSON: {exc}.") from exc
    if not json_depth_within(value, MAX_JSON_DEPTH):
        raise forms.ValidationError(f"This {what} is nested too deeply.")
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise forms.ValidationError(f"This {what} holds text that is not valid Unicode.") from exc
    return value


class ApplicationForm(forms.Form):
    """What a borrower sends with an application, beside the amount and duration (the projects'
    SchedulePreviewForm): purpose, the credential of each type ASKED to present, and consent.
    A self-custody wallet's browser puts its signed presentation in `presentation`."""

    purpose = forms.CharField(
        label="What is the loan for?",
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": 1000}),
        help_text="At most 1000 characters. The originator reads it, and it is in the agreement.",
    )
    consent = forms.CharField(required=False, max_length=16)
    presentation = forms.CharField(
        required=False,
        strip=False,
        max_length=MAX_ENVELOPE_BYTES,
        widget=forms.HiddenInput,
        error_messages={"max_length": "The presentation is larger than 1 MB."},
    )

    def __init__(
        self,
        *args,
        asked: Mapping[str, Sequence[str]],
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        # Which credential: the page offers the usable ones; the services check the choice.
        for slug in asked:
            title = CREDENTIAL_TYPES[slug].title
            self.fields[credential_field(slug)] = forms.IntegerField(
                required=True,
                min_value=1,
                error_messages={
                    "required": f"Choose the {title} credential to present.",
                    "invalid": f"Choose one of your {title} credentials.",
                    "min_value": f"Choose one of your {title} credentials.",
                },
            )
        self.asked = dict(asked)

    def clean_presentation(self) -> object:
        text = self.cleaned_data.get("presentation") or ""
        if not text.strip():
            return None
        return parse_json(text, what="presentation")

    def credential_ids(self) -> list[int]:
        return [self.cleaned_data[credential_field(slug)] for slug in self.asked]


class MessageForm(forms.Form):
    body = forms.CharField(
        label="Your message",
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 4, "maxlength": 4000}),
    )


class WithdrawForm(forms.Form):
    reason = forms.CharField(
        label="Why (optional)",
        required=False,
        max_length=300,
        widget=forms.TextInput(attrs={"maxlength": 300}),
    )


class SignForm(forms.Form):
    """A custodial wallet signs on the borrower's password; a self-custody one brings the JWS
    its browser made."""

    password = forms.CharField(
        label="Your password",
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text="Asked again, so that a session left open does not sign for you.",
    )
    signature = forms.CharField(
        required=False, max_length=4096, strip=True, widget=forms.HiddenInput
    )


class CodeForm(forms.Form):
    code = forms.CharField(
        label="The code you received",
        max_length=12,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}),
    )


class RepaymentReportForm(forms.Form):
    amount = forms.DecimalField(
        label="Amount",
        max_digits=18,
        decimal_places=3,
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),
    )
    reference = forms.CharField(
        label="Payment reference",
        max_length=120,
        help_text="The transaction code of your mobile money or bank, or a receipt number.",
    )
    rail = forms.ChoiceField(label="Paid by", choices=Rail.choices)
    paid_on = forms.DateField(label="Paid on", widget=forms.DateInput(attrs={"type": "date"}))


class AgreementVerifyForm(forms.Form):
    text = forms.CharField(
        label="Paste a signed agreement",
        required=False,
        strip=True,
        max_length=MAX_AGREEMENT_BYTES,
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false"}),
        help_text="The JSON of a signed agreement file.",
        error_messages={"max_length": f"The agreement is larger than {_MB}."},
    )
    file = forms.FileField(
        label="Or upload the file",
        required=False,
        help_text=f"The signed agreement (JSON) as its parties downloaded it, at most {_MB}.",
    )

    def clean_file(self) -> str | None:
        upload = self.cleaned_data.get("file")
        if upload is None:
            return None
        if upload.size is None or upload.size > MAX_AGREEMENT_BYTES:
            raise forms.ValidationError(f"The file is larger than {_MB}.")
        data = upload.read(MAX_AGREEMENT_BYTES + 1)
        if len(data) > MAX_AGREEMENT_BYTES:
            raise forms.ValidationError(f"The file is larger than {_MB}.")
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise forms.ValidationError("The file is not UTF-8 text.") from exc

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        text, upload = data.get("text"), data.get("file")
        if text and upload:
            raise forms.ValidationError("Paste the agreement or upload its file, not both.")
        if not (text or upload):
            raise forms.ValidationError("Paste a signed agreement or choose its file.")
        try:
            data["signed"] = parse_json(text or upload, what="file")
        except forms.ValidationError as error:
            self.add_error("text" if text else "file", error)
        return data
