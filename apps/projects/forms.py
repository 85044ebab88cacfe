"""Forms of the project pages. They check the shape of the input (a number, a date, a choice);
the services check the terms together and decide."""

from __future__ import annotations

import json
from decimal import Decimal

import pycountry
from django import forms

from apps.identity.ssi.credential_types import COUNTRY_CODES

from .models import DURATION_UNITS, Frequency, InterestMethod, ProjectStatus
from .schedule import CURRENCY_MINOR_UNITS
from .services import MAX_IMAGE_BYTES, TERM_FIELDS


def _currency_name(code: str) -> str:
    currency = pycountry.currencies.get(alpha_3=code)
    return f"{code} · {currency.name}" if currency else code


CURRENCY_CHOICES = [("", "Choose a currency")] + [
    (code, _currency_name(code)) for code in sorted(CURRENCY_MINOR_UNITS)
]
COUNTRY_CHOICES = sorted(
    (
        (code, getattr(country, "common_name", None) or country.name)
        for code in COUNTRY_CODES
        if (country := pycountry.countries.get(alpha_2=code))
    ),
    key=lambda choice: choice[1],
)
MAX_CRITERIA_CHARS = 100_000


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%d")


def _money(label: str, *, required: bool = True, help_text: str = "") -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        required=required,
        max_digits=18,
        decimal_places=3,
        help_text=help_text,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )


def _percent(label: str, *, required: bool = True, help_text: str = "") -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        required=required,
        max_digits=7,
        decimal_places=4,
        help_text=help_text,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )


def _count(label: str, *, required: bool = True, help_text: str = "") -> forms.IntegerField:
    return forms.IntegerField(label=label, required=required, min_value=0, help_text=help_text)


class ProjectForm(forms.Form):
    """Every term of a project. Durations count repayment periods of the chosen frequency (weeks,
    fortnights, months), or days for a single repayment at the end."""

    name = forms.CharField(label="Name", max_length=120)
    description = forms.CharField(
        label="Description",
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="What the loans are for and who they are meant for, in plain words.",
    )
    image = forms.FileField(
        label="Picture",
        required=False,
        widget=forms.FileInput(attrs={"accept": "image/*"}),
        help_text=f"A photo or drawing, at most {MAX_IMAGE_BYTES // (1024 * 1024)} MB; it is "
        "stored as a JPEG without its metadata (a phone photo can hold where it was taken).",
    )
    currency = forms.ChoiceField(label="Currency", choices=CURRENCY_CHOICES)
    target_amount = _money(
        "Target", help_text="The total the project lends; investors fund up to this amount."
    )
    min_amount = _money("Smallest loan")
    max_amount = _money("Largest loan")
    repayment_frequency = forms.ChoiceField(label="Repayments", choices=Frequency.choices)
    min_duration = _count("Shortest loan")
    max_duration = _count("Longest loan")
    grace_periods = _count(
        "Grace period",
        required=False,
        help_text="The first repayment periods carry interest only (none for a single repayment).",
    )
    annual_rate = _percent("Interest rate, % a year")
    interest_method = forms.ChoiceField(label="Interest method", choices=InterestMethod.choices)
    fee_percent = _percent(
        "Disbursement fee, % of the loan", required=False, help_text="Due on the day of payout."
    )
    fee_fixed = _money("Disbursement fee, fixed amount", required=False)
    starts_on = forms.DateField(label="Applications open on", widget=DateInput())
    ends_on = forms.DateField(label="Applications close on", widget=DateInput())
    invite_only = forms.BooleanField(
        label="Investors by invitation only",
        required=False,
        help_text="Only investors you invite can fund this project.",
    )
    min_ticket = _money("Smallest investment", required=False)
    max_ticket = _money(
        "Most one investor may put in",
        required=False,
        help_text="Leave empty for no cap beyond the target.",
    )
    first_loss_percent = _percent(
        "Your first-loss share, %",
        required=False,
        help_text="Losses hit this share of your own money first, before investors'.",
    )
    eligibility = forms.CharField(
        label="Eligibility criteria (JSON)",
        required=False,
        max_length=MAX_CRITERIA_CHARS,
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false"}),
        help_text='Rules over credential claims, e.g. {"all": [{"credential": "age", "claim": '
        '"birthDate", "op": "age_at_least", "value": 18}]}. Leave empty to accept anyone.',
    )

    DEFAULTS = {
        "grace_periods": 0,
        "fee_percent": Decimal(0),
        "fee_fixed": Decimal(0),
        "min_ticket": Decimal(0),
        "max_ticket": Decimal(0),
        "first_loss_percent": Decimal(0),
    }

    def __init__(self, *args, image_too_large: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.image_too_large = image_too_large

    def clean_image(self):
        if self.image_too_large:
            raise forms.ValidationError(
                f"The image is larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MB."
            )
        return self.cleaned_data.get("image")

    def clean_eligibility(self) -> dict:
        text = self.cleaned_data.get("eligibility", "").strip()
        if not text:
            return {}
        try:
            document = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise forms.ValidationError("The criteria are not valid JSON.") from exc
        if not isinstance(document, dict):
            raise forms.ValidationError('The criteria must be an object such as {"all": [...]}.')
        return document

    def terms(self) -> dict:
        """The terms as the services take them."""
        data = self.cleaned_data
        terms = {field: data.get(field) for field in TERM_FIELDS}
        for field, default in self.DEFAULTS.items():
            if terms[field] is None:
                terms[field] = default
        return terms

    def image_data(self) -> bytes | None:
        upload = self.cleaned_data.get("image")
        return upload.read(MAX_IMAGE_BYTES + 1) if upload else None

    def duration_unit(self) -> str:
        frequency = self["repayment_frequency"].value() or Frequency.MONTHLY
        return DURATION_UNITS.get(frequency, DURATION_UNITS[Frequency.MONTHLY])

    @staticmethod
    def initial_from(project) -> dict:
        initial = {field: getattr(project, field) for field in TERM_FIELDS}
        initial["eligibility"] = (
            json.dumps(project.eligibility, indent=2) if project.eligibility else ""
        )
        return initial


class ProjectFilterForm(forms.Form):
    status = forms.ChoiceField(
        label="Status", required=False, choices=[("", "Any status"), *ProjectStatus.choices]
    )

    def status_filter(self) -> str:
        """The valid filter only: a wrong value in the address filters nothing."""
        return self.cleaned_data.get("status", "") if self.is_valid() else ""


class ReasonForm(forms.Form):
    reason = forms.CharField(label="Reason (optional)", required=False, max_length=300)


class AmendForm(forms.Form):
    target_amount = _money("New target", required=False, help_text="Only higher than now.")
    ends_on = forms.DateField(
        label="New closing date", required=False, widget=DateInput(), help_text="Only later."
    )

    def clean(self):
        data = super().clean()
        if not self.errors and data.get("target_amount") is None and data.get("ends_on") is None:
            raise forms.ValidationError("Give a higher target, a later closing date, or both.")
        return data


class OpenProjectsFilterForm(forms.Form):
    """The borrower's filters: a loan amount and duration the project allows, its currency, and
    whether they qualify today."""

    amount = forms.DecimalField(
        label="Amount I need",
        required=False,
        min_value=Decimal("0.001"),
        max_digits=18,
        decimal_places=3,
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),
    )
    duration = forms.IntegerField(
        label="Repayment periods",
        required=False,
        min_value=1,
        max_value=10_000,
        help_text="Months, weeks or days, as each project counts them.",
    )
    currency = forms.ChoiceField(label="Currency", required=False)
    qualify = forms.BooleanField(label="Only projects I qualify for", required=False)

    def __init__(self, *args, currencies: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["currency"].choices = [("", "Any currency")] + [
            (code, _currency_name(code)) for code in currencies
        ]

    def filters(self) -> dict:
        """The valid filters only; a wrong value is shown by its field and filters nothing."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {
            "amount": data.get("amount"),
            "duration": data.get("duration"),
            "currency": data.get("currency") or "",
            "qualify": bool(data.get("qualify")),
        }


class SchedulePreviewForm(forms.Form):
    amount = forms.DecimalField(
        label="Amount",
        max_digits=18,
        decimal_places=3,
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),
    )
    duration = forms.IntegerField(label="Duration", min_value=1, max_value=10_000)
