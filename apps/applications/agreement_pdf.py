"""An agreement as a PDF (fpdf2, pure Python), rendered from its canonical document: parties,
terms, the schedule (a loan agreement's), the clauses, the hash and each party's signature.

The PDF is a copy to read and keep; the signed JSON file is what verifies. The built-in PDF fonts
cover Latin-1 only, so other characters are written as their closest Latin-1 spelling (accents
dropped, typographic quotes and dashes made plain) or "?".
"""

from __future__ import annotations

import unicodedata

from fpdf import FPDF
from fpdf.fonts import FontFace

from .agreement_text import SCHEDULE_COLUMNS, AgreementText, describe

FONT = "Helvetica"
MONO = "Courier"
_PLAIN = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201a": ",", "\u201c": '"', "\u201d": '"',
        "\u201e": '"', "\u2013": "-", "\u2014": "-", "\u2212": "-", "\u2026": "...",
        "\u2022": "*", "\u00a0": " ", "\u2009": " ", "\u202f": " ", "\u20ac": "EUR",
    }
)  # fmt: skip


def latin1(value: str) -> str:
    """VALUE in characters the built-in fonts have: Latin-1, with line breaks kept."""
    out = []
    for char in value.translate(_PLAIN):
        if char == "\n" or (char.isprintable() and ord(char) < 256):
            out.append(char)
        elif not char.isprintable():
            out.append(" ")
        else:
            base = "".join(
                c for c in unicodedata.normalize("NFKD", char) if ord(c) < 256 and c.isprintable()
            )
            out.append(base or "?")
    return "".join(out)


class _Pdf(FPDF):
    def __init__(self, title: str) -> None:
        super().__init__(format="A4")
        self.title_text = title
        self.set_margins(18, 18, 18)
        self.set_auto_page_break(auto=True, margin=18)
        self.set_title(title)
        self.set_creator("Growr node")

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, size=8)
        self.set_text_color(90, 96, 91)
        self.cell(0, 5, f"{self.title_text} - page {self.page_no()}/{{nb}}", align="C")

    def heading(self, text: str) -> None:
        self.ln(3)
        self.set_font(FONT, "B", 12)
        self.multi_cell(0, 7, latin1(text), new_x="LMARGIN", new_y="NEXT")
        self.set_font(FONT, size=10)

    def para(self, text: str, *, size: int = 10, mono: bool = False, height: float = 5) -> None:
        self.set_font(MONO if mono else FONT, size=size)
        self.multi_cell(0, height, latin1(text), new_x="LMARGIN", new_y="NEXT")
        self.set_font(FONT, size=10)

    def facts(self, rows) -> None:
        self.set_font(FONT, size=10)
        with self.table(
            col_widths=(45, 129),
            first_row_as_headings=False,
            borders_layout="HORIZONTAL_LINES",
            line_height=6,
        ) as table:
            for label, value in rows:
                row = table.row()
                row.cell(latin1(label), style=FontFace(emphasis="BOLD"))
                row.cell(latin1(value))


def _schedule(pdf: _Pdf, agreement: AgreementText) -> None:
    pdf.heading(f"Repayment schedule (amounts in {agreement.currency})")
    pdf.set_font(FONT, size=8)
    numeric = ("LEFT", "LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "RIGHT")
    with pdf.table(
        col_widths=(12, 26, 27, 27, 24, 29, 29),
        text_align=numeric,
        line_height=5,
        borders_layout="HORIZONTAL_LINES",
        headings_style=FontFace(emphasis="BOLD"),
    ) as table:
        header = table.row()
        for _, label in SCHEDULE_COLUMNS:
            header.cell(label)
        for cells in agreement.schedule_rows:
            row = table.row()
            for cell in cells:
                row.cell(latin1(cell))
    pdf.set_font(FONT, size=10)
    if agreement.totals:
        pdf.ln(2)
        pdf.facts(agreement.totals)


def render(*, document: dict, document_hash: str, signatures: dict[str, str]) -> bytes:
    """The PDF of DOCUMENT with its HASH and the SIGNATURES it has, by role."""
    agreement = describe(document)
    pdf = _Pdf(latin1(agreement.title))
    pdf.add_page()
    pdf.set_font(FONT, "B", 16)
    pdf.multi_cell(0, 9, latin1(agreement.title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, size=10)
    subject = (
        f"Invitation {agreement.invitation}"
        if agreement.kind == "investment"
        else f"Loan {agreement.loan}"
    )
    pdf.para(
        f"Made on {agreement.made_on} on the Growr node {agreement.node}. "
        f"{subject}; agreement {agreement.agreement_id}."
    )

    pdf.heading("Parties")
    for party in agreement.parties:
        pdf.para(f"{party.label}: {party.name}", size=10)
        pdf.para(party.did, size=8, mono=True, height=4)
    if agreement.project:
        pdf.para(f"Lending project: {agreement.project}")

    pdf.heading("Terms")
    pdf.facts(agreement.terms)
    if agreement.kind == "loan":
        _schedule(pdf, agreement)

    pdf.heading("Clauses")
    for number, clause in enumerate(agreement.clauses, start=1):
        pdf.para(f"{number}. {clause}")
        pdf.ln(1)

    pdf.heading("Agreement hash (SHA-256 of the canonical document)")
    pdf.para(document_hash, size=9, mono=True)
    pdf.heading("Signatures")
    pdf.para(
        "Each party signs the hash with the key of its DID (a compact EdDSA JWS). Verify the "
        "signed JSON file of this agreement, not this PDF: anyone can, at /agreements/verify/ "
        "on any Growr node."
    )
    for party in agreement.parties:
        pdf.ln(1)
        pdf.set_font(FONT, "B", 10)
        pdf.multi_cell(0, 5, latin1(party.label), new_x="LMARGIN", new_y="NEXT")
        jws = signatures.get(party.role)
        if jws:
            pdf.para(jws, size=7, mono=True, height=3.5)
        else:
            pdf.para("Not signed yet.")
    return bytes(pdf.output())
