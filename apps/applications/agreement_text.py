"""How an agreement document reads to a person: the same words on the borrower's or investor's
page, in the PDF and on the public verification page. A loan agreement has a schedule; an
investment agreement has the project's investor terms instead.

The document may come from anyone (an uploaded file), so nothing here trusts its shape: a value
that is not text or a whole number shows as nothing, never as an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from apps.projects.models import Frequency, InterestMethod

from .agreement import FORMAT, INVESTMENT_FORMAT

FORMAT_ROLE_NAMES = {
    FORMAT: {"originator": "Lender (originator)", "borrower": "Borrower"},
    INVESTMENT_FORMAT: {"originator": "Originator", "investor": "Investor"},
}
ROLE_NAMES = FORMAT_ROLE_NAMES[FORMAT]  # a loan agreement's
# How an investment agreement's terms say repayments and losses are shared among the funders.
DISTRIBUTIONS = {
    "pro_rata_largest_remainder": "Every repayment's principal and interest (fees stay with the "
    "originator) is split among the funders in proportion to their confirmed commitments, "
    "rounded to the currency's smallest unit by largest remainder, so that the parts add up to "
    "the repayment exactly.",
}
LOSSES = {
    "first_loss_then_pro_rata": "A written-off loan's principal is taken first by the "
    "originator's first-loss cover, the rest by the funders in proportion to their confirmed "
    "commitments.",
}
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
    kind: str  # "loan" or "investment"
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
    invitation: str = ""

    @property
    def title(self) -> str:
        return f"{self.kind.capitalize()} agreement {self.reference}".strip()

    def role_label(self, role: str) -> str:
        return next((p.label for p in self.parties if p.role == role), role)


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


def _investment_terms(terms: dict, currency: str) -> list[tuple[str, str]]:
    def money(key: str) -> str:
        amount = text(terms.get(key))
        return f"{amount} {currency}".strip() if amount else ""

    cap = money("max_ticket")
    if "max_ticket" in terms and (not cap or _is_zero(text(terms.get("max_ticket")))):
        cap = "None beyond the target"
    cover = text(terms.get("first_loss_percent"))
    distributions, losses = text(terms.get("distributions")), text(terms.get("losses"))
    rate = text(terms.get("annual_rate_percent"))
    rows = [
        ("Currency", currency),
        ("Project target", money("target_amount")),
        ("Minimum ticket", money("min_ticket")),
        ("Cap per investor", cap),
        ("First-loss cover", f"{cover}% of the confirmed funding" if cover else ""),
        ("Loans lent at", f"{rate}% a year" if rate else ""),
        ("Interest method", _label(InterestMethod, terms.get("interest_method"))),
        ("Repayments", _label(Frequency, terms.get("repayment_frequency"))),
        ("Distributions", DISTRIBUTIONS.get(distributions, distributions)),
        ("Losses", LOSSES.get(losses, losses)),
    ]
    return [(label, value) for label, value in rows if value]


def describe(document: object) -> AgreementText:
    """What DOCUMENT says, as text: parties, terms, schedule, clauses."""
    document = _dict(document)
    investment = document.get("format") == INVESTMENT_FORMAT
    terms = _dict(document.get("terms"))
    schedule = {} if investment else _dict(document.get("schedule"))
    project = _dict(document.get("project"))
    currency = text(terms.get("currency"))
    parties = []
    for role, label in FORMAT_ROLE_NAMES[INVESTMENT_FORMAT if investment else FORMAT].items():
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
        kind="investment" if investment else "loan",
        reference=text(document.get("reference")),
        made_on=text(document.get("made_on")),
        node=text(document.get("node")),
        loan=text(document.get("loan")),
        agreement_id=text(document.get("agreement_id")),
        project=project_name,
        currency=currency,
        parties=tuple(parties),
        terms=tuple((_investment_terms if investment else _terms)(terms, currency)),
        schedule_rows=tuple(rows),
        totals=tuple(totals),
        clauses=tuple(c for c in _list(document.get("clauses"), MAX_CLAUSES) if isinstance(c, str)),
        invitation=text(document.get("invitation")),
    )
