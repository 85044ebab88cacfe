"""An investor's statement as a PDF (fpdf2, pure Python): the period, the opening balance, every
movement with the balance after it, the totals by kind and the closing balance, the same figures
as the page and the CSV, to the cent.

The built-in PDF fonts cover Latin-1 only: text goes through the loan agreement's `latin1`, so
other characters are written as their closest Latin-1 spelling or "?".
"""

from __future__ import annotations

from fpdf import FPDF
from fpdf.fonts import FontFace

from apps.applications.agreement_pdf import latin1
from apps.projects.models import money_text

from .selectors import Statement

FONT = "Helvetica"
WHAT = {
    "invested": "Invested",
    "principal": "Principal returned",
    "interest": "Interest received",
    "loss": "Loss",
    "refund": "Refund",
}


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

    def para(self, text: str) -> None:
        self.set_font(FONT, size=10)
        self.multi_cell(0, 5, latin1(text), new_x="LMARGIN", new_y="NEXT")


def render(*, statement: Statement, investor: str, node: str) -> bytes:
    """The PDF of STATEMENT of INVESTOR (a name) on the node NODE (a name)."""
    currency = statement.currency

    def amount(value) -> str:
        return money_text(value, currency)

    title = f"Statement {statement.start:%Y-%m-%d} to {statement.end:%Y-%m-%d} ({currency})"
    pdf = _Pdf(latin1(title))
    pdf.add_page()
    pdf.set_font(FONT, "B", 16)
    pdf.multi_cell(0, 9, latin1(title), new_x="LMARGIN", new_y="NEXT")
    pdf.para(
        f"{investor}, investor on the Growr node {node}. The balance is the principal lent out; "
        f"cash is money paid in (negative) or received (positive). Amounts in {currency}."
    )
    pdf.heading("Movements")
    pdf.set_font(FONT, size=8)
    with pdf.table(
        col_widths=(22, 56, 30, 22, 22, 22),
        text_align=("LEFT", "LEFT", "LEFT", "RIGHT", "RIGHT", "RIGHT"),
        line_height=5,
        borders_layout="HORIZONTAL_LINES",
        headings_style=FontFace(emphasis="BOLD"),
    ) as table:
        header = table.row()
        for label in ("Date", "Project", "Movement", "Cash", "Balance change", "Balance"):
            header.cell(label)
        opening = table.row()
        for cell in (f"{statement.start:%Y-%m-%d}", "", "Opening balance", "", "",
                     amount(statement.opening)):  # fmt: skip
            opening.cell(cell)
        for line, balance in statement.balances():
            row = table.row()
            for cell in (f"{line.on:%Y-%m-%d}", line.project, WHAT.get(line.what, line.what),
                         amount(line.cash), amount(line.amount), amount(balance)):  # fmt: skip
                row.cell(latin1(cell))
    pdf.heading("Totals")
    pdf.set_font(FONT, size=10)
    with pdf.table(
        col_widths=(80, 47, 47),
        text_align=("LEFT", "RIGHT", "RIGHT"),
        line_height=6,
        borders_layout="HORIZONTAL_LINES",
        headings_style=FontFace(emphasis="BOLD"),
    ) as table:
        header = table.row()
        for label in ("", "Cash", "Balance"):
            header.cell(label)
        rows = [("Opening balance", "", amount(statement.opening))]
        rows += [
            (WHAT.get(t.what, t.what), amount(t.cash), amount(t.amount)) for t in statement.totals()
        ]
        rows.append(("Closing balance", "", amount(statement.closing)))
        for cells in rows:
            row = table.row()
            for cell in cells:
                row.cell(latin1(cell))
    return bytes(pdf.output())
