"""Forms of the staff credentials pages. They turn a credential type's JSON Schema into fields
and the fields back into a claims dict; the services validate the claims and decide."""

from __future__ import annotations

from datetime import datetime, time

import pycountry
from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from .credential_selectors import ISSUED_STATES
from .credential_services import INVESTOR_CREDENTIAL_TYPES, MAX_CSV_BYTES
from .ssi.credential_types import (
    COUNTRY_CODES,
    CREDENTIAL_TYPES,
    CURRENCY_CODES,
    CredentialType,
)

TYPE_CHOICES = [(t.slug, t.title) for t in CREDENTIAL_TYPES.values()]
COUNTRY_CHOICES = sorted(
    ((c.alpha_2, c.name) for c in pycountry.countries), key=lambda choice: choice[1]
)
CURRENCY_CHOICES = [
    (code, f"{code} · {pycountry.currencies.get(alpha_3=code).name}") for code in CURRENCY_CODES
]
CLAIM_PREFIX = "claim_"
TOO_LARGE = (
    f"The file is larger than {MAX_CSV_BYTES // (1024 * 1024)} MB: split it into smaller files."
)


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%d")


class CredentialFilterForm(forms.Form):
    type = forms.ChoiceField(label="Type", required=False, choices=[("", "All types")])
    state = forms.ChoiceField(
        label="State",
        required=False,
        choices=[("", "Any state")] + [(s, s.capitalize()) for s in ISSUED_STATES],
    )
    email = forms.CharField(label="Borrower's e-mail", required=False, max_length=254)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["type"].choices = [("", "All types"), *TYPE_CHOICES]

    def filters(self) -> dict[str, str]:
        """The valid filters only: a wrong value in the address filters nothing."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {
            "credential_type": data.get("type") or "",
            "state": data.get("state") or "",
            "email": data.get("email") or "",
        }


class CredentialTypeForm(forms.Form):
    """The first step of issuing: which type (a GET form, so the page needs no JavaScript)."""

    type = forms.ChoiceField(label="Credential type", choices=TYPE_CHOICES)


def _claim_field(schema: dict, *, label: str, required: bool) -> forms.Field:
    common = {"label": label, "required": required}
    if schema.get("enum") == COUNTRY_CODES:
        return forms.ChoiceField(choices=[("", "Choose a country"), *COUNTRY_CHOICES], **common)
    if schema.get("enum") == CURRENCY_CODES:
        return forms.ChoiceField(choices=[("", "Choose a currency"), *CURRENCY_CHOICES], **common)
    if "enum" in schema:
        return forms.ChoiceField(choices=[(v, v) for v in schema["enum"]], **common)
    if schema.get("format") == "date":
        return forms.DateField(widget=DateInput(), **common)
    if schema.get("type") == "integer":
        return forms.IntegerField(
            min_value=schema.get("minimum"), max_value=schema.get("maximum"), **common
        )
    if schema.get("pattern", "").startswith("^[0-9]"):  # a decimal number kept as a string
        return forms.CharField(
            widget=forms.TextInput(attrs={"inputmode": "decimal"}),
            help_text="A number with a dot for decimals, e.g. 1250.50.",
            **common,
        )
    max_length = schema.get("maxLength")
    widget = forms.Textarea(attrs={"rows": 3}) if (max_length or 0) > 200 else None
    return forms.CharField(max_length=max_length, widget=widget, **common)


def claim_fields(credential_type: CredentialType) -> dict[str, tuple[tuple[str, ...], forms.Field]]:
    """A form field per claim (two for money: amount and currency), by field name, each with the
    path of its value in the claims dict."""
    schema = credential_type.claims_schema
    fields: dict[str, tuple[tuple[str, ...], forms.Field]] = {}
    for name, prop in schema["properties"].items():
        label = credential_type.labels.get(name, name)
        required = name in schema.get("required", [])
        if prop.get("type") == "object":
            for part, sub in prop["properties"].items():
                fields[f"{CLAIM_PREFIX}{name}__{part}"] = (
                    (name, part),
                    _claim_field(
                        sub,
                        label=f"{label}: {part}",
                        required=required and part in prop.get("required", []),
                    ),
                )
        else:
            fields[f"{CLAIM_PREFIX}{name}"] = (
                (name,),
                _claim_field(prop, label=label, required=required),
            )
    return fields


class CredentialIssueForm(forms.Form):
    """The second step: the borrower (or, for a KYC credential, the investor), the claims of
    the chosen type, and the end of validity."""

    email = forms.EmailField(label="Borrower's e-mail")
    valid_until = forms.DateField(
        label="Valid until", required=False, widget=DateInput(), help_text=""
    )

    def __init__(self, *args, credential_type: CredentialType, **kwargs):
        super().__init__(*args, **kwargs)
        self.credential_type = credential_type
        if credential_type.slug in INVESTOR_CREDENTIAL_TYPES:
            self.fields["email"].label = "Borrower's or investor's e-mail"
        self.claim_paths: dict[str, tuple[str, ...]] = {}
        for name, (path, field) in claim_fields(credential_type).items():
            self.fields[name] = field
            self.claim_paths[name] = path
        self.order_fields(["email", *self.claim_paths, "valid_until"])
        default = credential_type.validity
        self.fields["valid_until"].help_text = (
            f"Optional. Without a date the credential is valid for {default.days} days."
            if default
            else "Optional. Without a date the credential does not expire."
        )

    def claims(self) -> dict:
        """The claims dict the service expects, from the cleaned fields (empty ones left out)."""
        claims: dict = {}
        for name, path in self.claim_paths.items():
            value = self.cleaned_data.get(name)
            if value is None or value == "":
                continue
            if hasattr(value, "isoformat"):
                value = value.isoformat()
            elif isinstance(value, str):
                value = value.strip()
            target = claims
            for part in path[:-1]:
                target = target.setdefault(part, {})
            target[path[-1]] = value
        return claims

    def valid_until_moment(self) -> datetime | None:
        """The start of the chosen day, in the node's time zone, as the CSV upload reads it."""
        day = self.cleaned_data.get("valid_until")
        if day is None:
            return None
        return timezone.make_aware(datetime.combine(day, time.min))

    def add_service_errors(self, error: ValidationError) -> None:
        """Put the service's objections next to the fields they are about: a claim message
        starts with the claim's path (monthlyIncome/amount: ...)."""
        if not hasattr(error, "error_dict"):
            self.add_error(None, error.messages)
            return
        for key, messages in error.message_dict.items():
            if key == "claims":
                for message in messages:
                    self._add_claim_error(message)
            elif key == "holder":
                self.add_error("email", messages)
            else:
                self.add_error(key if key in self.fields else None, messages)

    def _add_claim_error(self, message: str) -> None:
        where, sep, text = message.partition(": ")
        path = tuple(where.split("/")) if sep else ()
        for name, field_path in self.claim_paths.items():
            if path and field_path[: len(path)] == path:
                self.add_error(name, text)
                return
        self.add_error(None, message)


class CredentialBulkForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        required=False,  # checked in clean(), after the size
        help_text="UTF-8, at most 1 MB and 1000 rows. Columns: email, type, valid_until "
        "(YYYY-MM-DD, optional), then the claims of each row's type.",
        widget=forms.FileInput(attrs={"accept": ".csv,text/csv"}),
    )

    def __init__(self, *args, too_large: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.too_large = too_large  # the upload was cut off at the limit

    def clean(self):
        data = super().clean()
        upload = data.get("file")
        if self.too_large or (upload is not None and upload.size > MAX_CSV_BYTES):
            self.add_error("file", TOO_LARGE)
        elif upload is None:
            self.add_error("file", "Choose a CSV file to upload.")
        return data


class CredentialRevokeForm(forms.Form):
    reason = forms.CharField(
        label="Reason",
        max_length=300,
        help_text="Kept on this node with the credential. The public status list only says "
        "that it is revoked.",
    )
