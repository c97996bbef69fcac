"""An issued invoice drawn as a PDF with reportlab: one A4 page (more when the lines do
not fit), the issuer and the buyer, one line per order, the total and the remarks.

Text a person typed (an organisation, an address, a bank) may be Chinese. It is drawn in
``STSong-Light``, one of the CID fonts every PDF reader carries (Adobe's Asian font
packs), so no font file ships with Relaygate and the text stays text: a reader copies it
and pypdf extracts it back. Latin-1 text is drawn in Helvetica. The document is built
``invariant`` (no creation time, a fixed id), so the same invoice gives the same bytes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date

from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas

__all__ = ["InvoiceDocument", "Issuer", "PdfLine", "render_pdf"]

CJK = "STSong-Light"
LATIN = "Helvetica"
BOLD = "Helvetica-Bold"
MARGIN = 56.0  # points (about 20 mm)
LEADING = 1.45  # line height, as a multiple of the font size


@dataclass(frozen=True, slots=True)
class Issuer:
    """The operator, as the settings name it (``invoice_issuer_*``)."""

    name: str
    address: str
    tax_id: str


@dataclass(frozen=True, slots=True)
class PdfLine:
    paid_on: date
    order_id: int
    amount: str  # already formatted with the currency's decimals


@dataclass(frozen=True, slots=True)
class InvoiceDocument:
    number: str
    issued_on: date
    issuer: Issuer
    organisation: str
    tax_id: str
    lines: tuple[PdfLine, ...]
    total: str
    currency: str  # upper case
    remarks: tuple[str, ...]  # "Address: …", "Bank: …"


def _font(text: str, bold: bool = False) -> str:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return CJK
    return BOLD if bold else LATIN


def _wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """Lines no wider than ``width``: at spaces where there are some, else anywhere (CJK
    text has no spaces between words)."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for char in paragraph:
            if pdfmetrics.stringWidth(line + char, font, size) <= width or not line:
                line += char
                continue
            cut = line.rfind(" ")
            if cut > 0:
                lines.append(line[:cut])
                line = line[cut + 1 :] + char
            else:
                lines.append(line)
                line = char
        lines.append(line)
    return lines


class _Writer:
    """A cursor down the page that starts a new page when the next line would not fit."""

    def __init__(self, canvas: Canvas) -> None:
        self.canvas = canvas
        self.width, self.height = A4
        self.y = self.height - MARGIN

    def room(self, needed: float) -> None:
        if self.y - needed < MARGIN:
            self.canvas.showPage()
            self.y = self.height - MARGIN

    def text(
        self,
        text: str,
        *,
        x: float = MARGIN,
        size: float = 10,
        bold: bool = False,
        width: float = 0,
    ) -> None:
        font = _font(text, bold)
        for line in _wrap(text, font, size, width or self.width - MARGIN - x):
            self.room(size * LEADING)
            self.y -= size * LEADING
            self.canvas.setFont(font, size)
            self.canvas.drawString(x, self.y, line)

    def row(self, cells: tuple[str, str, str], *, bold: bool = False, size: float = 10) -> None:
        """Date, order and amount (right-aligned at the margin)."""
        self.room(size * LEADING)
        self.y -= size * LEADING
        for x, cell in ((MARGIN, cells[0]), (MARGIN + 120, cells[1])):
            self.canvas.setFont(_font(cell, bold), size)
            self.canvas.drawString(x, self.y, cell)
        self.canvas.setFont(_font(cells[2], bold), size)
        self.canvas.drawRightString(self.width - MARGIN, self.y, cells[2])

    def rule(self) -> None:
        self.room(8)
        self.y -= 4
        self.canvas.line(MARGIN, self.y, self.width - MARGIN, self.y)
        self.y -= 4

    def gap(self, points: float = 10) -> None:
        self.y -= points


def _register_fonts() -> None:
    if CJK not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CJK))


def render_pdf(doc: InvoiceDocument) -> bytes:
    """The invoice's PDF bytes."""
    _register_fonts()
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=A4, invariant=True, pageCompression=1)
    canvas.setTitle(f"Invoice {doc.number}")
    canvas.setAuthor(doc.issuer.name)
    page = _Writer(canvas)
    page.text("INVOICE", size=20, bold=True)
    page.gap(4)
    page.text(f"Number: {doc.number}", size=11, bold=True)
    page.text(f"Date of issue: {doc.issued_on.isoformat()}")
    page.gap()
    page.text("Issuer", bold=True)
    page.text(doc.issuer.name)
    if doc.issuer.address:
        page.text(doc.issuer.address)
    if doc.issuer.tax_id:
        page.text(f"Tax ID: {doc.issuer.tax_id}")
    page.gap()
    page.text("Billed to", bold=True)
    page.text(doc.organisation)
    page.text(f"Tax ID: {doc.tax_id}")
    page.gap()
    page.row(("Date paid", "Top-up order", f"Amount ({doc.currency})"), bold=True)
    page.rule()
    for line in doc.lines:
        page.row((line.paid_on.isoformat(), f"#{line.order_id}", line.amount))
    page.rule()
    page.row(("Total", "", f"{doc.total} {doc.currency}"), bold=True, size=11)
    if doc.remarks:
        page.gap()
        page.text("Remarks", bold=True)
        for remark in doc.remarks:
            page.text(remark)
    canvas.showPage()
    canvas.save()
    return out.getvalue()
