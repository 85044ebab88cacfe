"""How a loan agreement document reads to a person: the same words on the borrower's page, in
the PDF and on the public verification page.

The document may come from anyone (an uploaded file), so nothing here trusts its shape: a value
that is not text or a whole number shows as nothing, never as an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from apps.projects.models import Frequency, InterestMethod

ROLE_NAMES = {"originator": "Lender (originator)", "borrower": "Borrower"}
SCHEDULE_COLUMNS = (
    ("number", "#"),
    ("due_on", "Due on"),
    ("principal", "Principal"),
    ("interest", "Interest"),
    ("fee", "Fees"),
    ("total", "To pay"),
    ("balance", "Still owed"),
)
MAX_ROWS = 2000
MAX_CLAUSES = 200


def text(value: object) -> str:
    """VALUE as a person reads it: text and whole numbers as they are, anything else empty."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str | int):
        return str(value)
    return ""


def _dict(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: object, limit: int) -> list:
    return value[:limit] if isinstance(value, list) else []


@dataclass(frozen=True)
class Party:
    role: str
    label: str
    name: str
    did: str


@dataclass(frozen=True)
class AgreementText:
    reference: str
    made_on: str
    node: str
    loan: str
    agreement_id: str
    project: str
    currency: str
    parties: tuple[Party, ...]
    terms: tuple[tuple[str, str], ...]
    schedule_rows: tuple[tuple[str, ...], ...]  # in the order of SCHEDULE_COLUMNS
    totals: tuple[tuple[str, str], ...]
    clauses: tuple[str, ...]

    @property
    def title(self) -> str:
        return f"Loan agreement {self.reference}".strip()


def _is_zero(value: str) -> bool:
    try:
        return Decimal(value) == 0
    except (InvalidOperation, ValueError):
        return False


def _label(choices, value: object) -> str:
    shown = text(value)
    return dict(choices.choices).get(shown, shown)


def _terms(terms: dict, currency: str) -> list[tuple[str, str]]:
    def money(key: str) -> str:
        amount = text(terms.get(key))
        return f"{amount} {currency}".strip() if amount else ""

    unit = text(terms.get("duration_unit"))

    def periods(count: str) -> str:
        return f"{count} {unit[:-1] if count == '1' and unit.endswith('s') else unit}".strip()

    grace = text(terms.get("grace_periods"))
    fee_percent, fee_fixed = text(terms.get("fee_percent")), text(terms.get("fee_fixed"))
    fees = []
    if fee_percent and not _is_zero(fee_percent):
        fees.append(f"{fee_percent}% of the loan")
    if fee_fixed and not _is_zero(fee_fixed):
        fees.append(money("fee_fixed"))
    rate = text(terms.get("annual_rate_percent"))
    rows = [
        ("Loan", money("principal")),
        ("Duration", periods(text(terms.get("duration")))),
        ("Interest", f"{rate}% a year" if rate else ""),
        ("Interest method", _label(InterestMethod, terms.get("interest_method"))),
        ("Repayments", _label(Frequency, terms.get("repayment_frequency"))),
        ("Grace period", f"{periods(grace)}, interest only" if grace not in ("", "0") else "None"),
        ("Disbursement fee", " plus ".join(fees) if fees else "None"),
        ("Purpose", text(terms.get("purpose"))),
    ]
    return [(label, value) for label, value in rows if value]


def describe(document: object) -> AgreementText:
    """What DOCUMENT says, as text: parties, terms, schedule, clauses."""
    document = _dict(document)
    terms = _dict(document.get("terms"))
    schedule = _dict(document.get("schedule"))
    project = _dict(document.get("project"))
    currency = text(terms.get("currency"))
    parties = []
    for role, label in ROLE_NAMES.items():
        party = _dict(_dict(document.get("parties")).get(role))
        parties.append(Party(role, label, text(party.get("name")), text(party.get("did"))))
    rows = []
    for row in _list(schedule.get("rows"), MAX_ROWS):
        row = _dict(row)
        cells = [text(row.get(key)) for key, _ in SCHEDULE_COLUMNS]
        if cells[0] == "0":
            cells[0] = "Fee"
        rows.append(tuple(cells))
    totals = [
        (label, f"{text(schedule.get(key))} {currency}".strip())
        for key, label in (
            ("total_interest", "Interest"),
            ("total_fees", "Fees"),
            ("total_repaid", "Repaid in all"),
        )
        if text(schedule.get(key))
    ]
    project_name = text(project.get("name"))
    if project_name and text(project.get("version")):
        project_name = f"{project_name} (version {text(project.get('version'))})"
    return AgreementText(
        reference=text(document.get("reference")),
        made_on=text(document.get("made_on")),
        node=text(document.get("node")),
        loan=text(document.get("loan")),
        agreement_id=text(document.get("agreement_id")),
        project=project_name,
        currency=currency,
        parties=tuple(parties),
        terms=tuple(_terms(terms, currency)),
        schedule_rows=tuple(rows),
        totals=tuple(totals),
        clauses=tuple(c for c in _list(document.get("clauses"), MAX_CLAUSES) if isinstance(c, str)),
    )
