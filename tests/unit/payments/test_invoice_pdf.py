"""The invoice PDF, read back with pypdf: Chinese text stays text, long text wraps inside
the page, many lines flow onto more pages, the same invoice gives the same bytes, and
amounts keep the currency's decimals."""

from __future__ import annotations

import io
from datetime import date

from pypdf import PdfReader

from relaygate.payments.amounts import show_amount
from relaygate.payments.invoice_pdf import InvoiceDocument, Issuer, PdfLine, render_pdf

ISSUER = Issuer("龙岗先达科技有限公司", "深圳市龙岗区 Example Road 8", "91440300TEST")


def _doc(lines: int = 2, **changes: object) -> InvoiceDocument:
    values: dict[str, object] = {
        "number": "INV-2026-000042",
        "issued_on": date(2026, 3, 1),
        "issuer": ISSUER,
        "organisation": "Société Générale Café Ltd",
        "tax_id": "FR12345678901",
        "lines": tuple(PdfLine(date(2026, 2, 1), 100 + n, "20.00") for n in range(lines)),
        "total": show_amount(20_000_000 * lines, "usd"),
        "currency": "USD",
        "remarks": ("Address: 1 Rue de la Paix", "Bank: BNP 0001"),
    }
    values.update(changes)
    return InvoiceDocument(**values)  # type: ignore[arg-type]


def _text(content: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(content)).pages]


def test_latin_and_chinese_text_read_back() -> None:
    (page,) = _text(render_pdf(_doc()))
    for expected in (
        "INV-2026-000042",
        "2026-03-01",
        "Société Générale Café Ltd",
        "FR12345678901",
        "龙岗先达科技有限公司",
        "91440300TEST",
        "#100",
        "#101",
        "40.00 USD",
        "Bank: BNP 0001",
    ):
        assert expected in page, expected


def test_long_text_wraps_and_many_lines_take_more_pages() -> None:
    long_name = "深圳市" + "很长的名字" * 30 + "有限公司"
    pages = _text(render_pdf(_doc(lines=100, organisation=long_name)))
    assert len(pages) >= 3
    joined = "".join("".join(p.split()) for p in pages)
    assert "很长的名字" * 10 in joined and "有限公司" in joined
    assert "#199" in pages[-1] and "2000.00 USD" in pages[-1]


def test_the_same_invoice_gives_the_same_bytes() -> None:
    assert render_pdf(_doc()) == render_pdf(_doc())


def test_amounts_use_the_currencys_decimals() -> None:
    assert show_amount(20_000_000, "usd") == "20.00"
    assert show_amount(500_000_000, "jpy") == "500"
    assert show_amount(1_234_000, "kwd") == "1.234"
    assert show_amount(1_234_567, "usd") == "1.234567"  # never rounded away
