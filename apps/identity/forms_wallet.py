"""Forms of the borrower's credit record and wallet pages. They check the shape of the input;
the services verify credentials and decide what is allowed."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from django import forms

from .credential_selectors import CreditRecordEntry
from .credential_services import MAX_UPLOAD_BYTES
from .ssi.credential_types import CREDENTIAL_TYPES, SD_JWT

SD_JWT_DOWNLOAD_FORMAT = "sd-jwt"
_LIMIT_TEXT = f"{MAX_UPLOAD_BYTES // 1024} KB"


def parse_credential(text: str) -> dict | str:
    """A credential as pasted or uploaded: an LDP JSON object, or an SD-JWT string (bare, as a
    JSON string, or in the {"format": "sd-jwt", "credential": ...} of a download)."""
    text = text.strip()
    if not text:
        raise forms.ValidationError("Paste a credential or choose a file.")
    if text[0] not in '{["':
        if any(char.isspace() for char in text):
            raise forms.ValidationError(
                "This is neither JSON nor an SD-JWT (an SD-JWT has no spaces or line breaks)."
            )
        return text
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise forms.ValidationError(
            f"This is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
        ) from exc
    except RecursionError as exc:
        raise forms.ValidationError("This JSON is nested too deeply to be a credential.") from exc
    if isinstance(value, dict) and "format" in value and "credential" in value:
        if value["format"] != SD_JWT_DOWNLOAD_FORMAT or not isinstance(value["credential"], str):
            raise forms.ValidationError(
                'A downloaded SD-JWT reads {"format": "sd-jwt", "credential": "<SD-JWT>"}.'
            )
        return value["credential"]
    if isinstance(value, dict) and "holder" in value and "credentials" in value:
        raise forms.ValidationError(
            "This is a whole credit record: import its credentials one at a time."
        )
    if isinstance(value, dict | str):
        return value
    raise forms.ValidationError("A credential is a JSON object (LDP) or an SD-JWT string.")


class CredentialImportForm(forms.Form):
    text = forms.CharField(
        label="Paste a credential",
        required=False,
        strip=True,
        max_length=MAX_UPLOAD_BYTES,
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false"}),
        help_text="The JSON of a credential, or an SD-JWT string.",
    )
    file = forms.FileField(
        label="Or upload a file",
        required=False,
        help_text=f"A credential you downloaded (JSON or SD-JWT), at most {_LIMIT_TEXT}.",
    )

    def clean_file(self) -> str | None:
        upload = self.cleaned_data.get("file")
        if upload is None:
            return None
        # The size is known before the content is read: a larger file is not read at all.
        if upload.size is None or upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(f"The file is larger than {_LIMIT_TEXT}.")
        data = upload.read(MAX_UPLOAD_BYTES + 1)
        if len(data) > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(f"The file is larger than {_LIMIT_TEXT}.")
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise forms.ValidationError("The file is not UTF-8 text.") from exc

    def clean(self):
        data = super().clean()
        text, upload = data.get("text"), data.get("file")
        if self.errors:
            return data
        if text and upload is not None:
            raise forms.ValidationError("Paste a credential or upload a file, not both.")
        source = "text" if text else "file"
        try:
            data["credential"] = parse_credential(text or upload or "")
        except forms.ValidationError as error:
            self.add_error(source if (text or upload) else None, error)
        return data


class KeyExportForm(forms.Form):
    password = forms.CharField(
        label="Your password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text="Asked again, so that a session left open does not hand your key over.",
    )


@dataclass(frozen=True)
class ClaimChoice:
    name: str
    label: str
    value: object
    checked: bool


@dataclass(frozen=True)
class CredentialChoice:
    entry: CreditRecordEntry
    title: str
    checked: bool
    claims: list[ClaimChoice]
    errors: list[str]

    @property
    def pk(self) -> int:
        return self.entry.record.pk

    @property
    def selective(self) -> bool:
        return self.entry.record.format == SD_JWT


def disclose_field(pk: int) -> str:
    return f"disclose_{pk}"


class PresentForm(forms.Form):
    """Which credentials of their record a borrower presents and, for SD-JWT ones, which claims.

    What the node checks is built from the same choice: {credential type: [claim names]}."""

    credentials = forms.TypedMultipleChoiceField(
        coerce=int,
        required=True,
        error_messages={"required": "Choose at least one credential."},
    )

    def __init__(self, *args, entries: Sequence[CreditRecordEntry], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.entries = list(entries)
        self.records = {entry.record.pk: entry.record for entry in self.entries}
        self.fields["credentials"].choices = [(pk, pk) for pk in self.records]
        for entry in self.entries:
            record = entry.record
            if record.format == SD_JWT:
                self.fields[disclose_field(record.pk)] = forms.MultipleChoiceField(
                    required=False, choices=[(name, name) for name in record.claims]
                )

    def _submitted(self, name: str) -> list[str]:
        return self.data.getlist(name) if self.is_bound else []

    def choices(self) -> list[CredentialChoice]:
        """The record as checkboxes, ticked as the person left them."""
        chosen = set(self._submitted("credentials"))
        rows = []
        for entry in self.entries:
            record = entry.record
            credential_type = CREDENTIAL_TYPES.get(record.credential_type)
            labels = credential_type.labels if credential_type else {}
            # An LDP credential is presented whole: all its claims, none to choose.
            ticked = set(self._submitted(disclose_field(record.pk)))
            claims = [
                ClaimChoice(
                    name, labels.get(name, name), value, record.format != SD_JWT or name in ticked
                )
                for name, value in record.claims.items()
            ]
            rows.append(
                CredentialChoice(
                    entry=entry,
                    title=credential_type.title if credential_type else record.credential_type,
                    checked=str(record.pk) in chosen,
                    claims=claims,
                    errors=list(self.errors.get(disclose_field(record.pk), [])),
                )
            )
        return rows

    def clean(self):
        data = super().clean()
        chosen = [self.records[pk] for pk in data.get("credentials") or []]
        request: dict[str, list[str]] = {}
        disclose: dict[int, list[str]] = {}
        for record in chosen:
            if record.credential_type in request:
                title = CREDENTIAL_TYPES[record.credential_type].title
                raise forms.ValidationError(f"Choose one {title} credential, not two.")
            if record.format == SD_JWT:
                claims = data.get(disclose_field(record.pk)) or []
                if not claims:
                    self.add_error(
                        disclose_field(record.pk), "Choose the claims you want to disclose."
                    )
                disclose[record.pk] = list(claims)
            else:
                claims = list(record.claims)
            request[record.credential_type] = list(claims)
        data["request"] = request
        data["disclose"] = disclose
        data["credential_ids"] = [record.pk for record in chosen]
        return data
