"""A call's usage row names its route group and each multiplier, as exact decimal strings."""

from __future__ import annotations

from decimal import Decimal

from relaygate.billing.charging import Charge
from relaygate.billing.pricing import Multipliers
from relaygate.billing.writer import USAGE_COLUMNS
from relaygate.relay.context import CallContext


def _columns(ctx: CallContext) -> dict[str, object]:
    return dict(zip(USAGE_COLUMNS, ctx.record(), strict=True))


def test_a_priced_call_records_each_multiplier() -> None:
    ctx = CallContext("req_1", "chat/completions", "127.0.0.1", "cc-omg")
    rates = Multipliers(Decimal("1.250"), Decimal("0.20"), Decimal("5E-1"), Decimal("1E+1"))
    ctx.charge = Charge(6000, 15000, 15000, 0, rates.total, (), rates)
    row = _columns(ctx)
    assert row["route_group"] == "cc-omg"
    assert (row["model_multiplier"], row["route_multiplier"]) == ("1.25", "0.2")
    assert (row["tier_multiplier"], row["group_multiplier"]) == ("0.5", "10")
    assert Decimal(str(row["multiplier"])) == Decimal("1.25")


def test_an_unpriced_call_records_ones_and_its_route_group() -> None:
    row = _columns(CallContext("req_2", "messages", "127.0.0.1", "codex-omg"))
    assert row["route_group"] == "codex-omg"
    assert [row[f"{name}_multiplier"] for name in ("model", "route", "tier", "group")] == ["1"] * 4
    assert _columns(CallContext("req_3", "chat/completions", ""))["route_group"] == ""
