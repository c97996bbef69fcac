"""CSV cells of the bill export: injection-safe, exact money (billing/bills_export.py)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

from relaygate.billing.bills_export import COLUMNS, csv_rows, safe_cell
from relaygate.billing.bills_view import BillRow

NOON = datetime(2026, 12, 7, 12, tzinfo=UTC)


def test_csv_cells_that_a_spreadsheet_would_run_are_quoted() -> None:
    for text in ("=1+1", "+1", "-2", "@SUM(A1)", "\tx", "\rx"):
        assert safe_cell(text) == "'" + text
    assert safe_cell("gpt-4o") == "gpt-4o" and safe_cell(12) == 12
    assert safe_cell(True) == "true" and safe_cell(None) == ""


def test_csv_rows_have_the_header_and_exact_money() -> None:
    row = BillRow(
        id=1, request_id="=cmd", time=NOON, key_id=None, key_remark=None, model="m",
        endpoint="chat/completions", status=200, stream=True, prompt_tokens=3,
        completion_tokens=4, cached_tokens=0, rurt_ms=5, tps=Decimal("1.5"), free=False,
        free_amount=0, amount=1_234_567, official_cost=2, package_amount=0,
        package_used=False, route_group="cc-omg", multiplier="0.2", rules=(12, 15),
    )  # fmt: skip
    [parsed] = list(csv.DictReader(io.StringIO(csv_rows([row], header=True))))
    assert tuple(parsed) == COLUMNS
    assert parsed["amount"] == "1.234567" and parsed["requestId"] == "'=cmd"
    assert parsed["time"] == "2026-12-07T12:00:00Z" and parsed["TPS"] == "1.5"
    assert parsed["rules"] == "12,15"
