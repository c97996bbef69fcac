"""A call's usage row names its route group and each multiplier, as exact decimal strings."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime
from decimal import Decimal

from relaygate.billing.charging import Charge
from relaygate.billing.pricing import Multipliers
from relaygate.billing.usage_row import UsageRow
from relaygate.core.units import Usage
from relaygate.relay.context import CallContext


def _columns(ctx: CallContext) -> dict[str, object]:
    return dataclasses.asdict(ctx.record())


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


def test_a_known_call_records_the_expected_row() -> None:
    ctx = CallContext("req_k", "chat/completions", "10.0.0.1", "cc-omg")
    ctx.user_id, ctx.key_id, ctx.channel_id, ctx.attempts = 7, 3, 2, 2
    ctx.model, ctx.upstream_model, ctx.status, ctx.stream = "gpt-4o", "gpt-4o-up", 200, True
    ctx.rurt_ms, ctx.ttfb_ms = 12, 80
    ctx.usage = Usage(1200, 300, cached_tokens=200, reasoning_tokens=50, estimated=True,
                      images=1, characters=5, audio_ms=900)  # fmt: skip
    rates = Multipliers(Decimal("1.250"), Decimal("0.8"), Decimal("5E-1"), Decimal("1E+1"))
    ctx.charge = Charge(6000, 7000, 5000, 2000, rates.total, ((11, 300), (12, 5)), rates)
    ctx.started = time.perf_counter() - 1.5
    before = datetime.now(UTC)
    row = ctx.record()
    assert before <= row.created_at <= datetime.now(UTC)
    assert row.created_at.tzinfo is not None
    assert 1500 <= row.duration_ms < 60_000
    assert row == UsageRow(
        request_id="req_k", created_at=row.created_at, user_id=7, key_id=3, model="gpt-4o",
        upstream_model="gpt-4o-up", channel_id=2, endpoint="chat/completions", status=200,
        stream=True, prompt_tokens=1200, completion_tokens=300, cached_tokens=200,
        reasoning_tokens=50, usage_estimated=True, rurt_ms=12, ttfb_ms=80,
        duration_ms=row.duration_ms, client_ip="10.0.0.1", error=None, official_cost=6000,
        amount=7000, free_amount=2000, multiplier="5.0000", package_amount=305, attempts=2,
        images=1, characters=5, audio_ms=900, route_group="cc-omg", model_multiplier="1.25",
        route_multiplier="0.8", tier_multiplier="0.5", group_multiplier="10",
    )  # fmt: skip


def test_a_failed_unmetered_call_records_zeros_and_its_masked_error() -> None:
    ctx = CallContext("req_f", "messages", "")
    ctx.fail(502, "upstream broke")
    row = ctx.record()
    assert row == dataclasses.replace(
        row, status=502, error="upstream broke", prompt_tokens=0, completion_tokens=0,
        usage_estimated=False, official_cost=0, amount=0, free_amount=0, multiplier="1",
        package_amount=0, images=0, characters=0, audio_ms=0, ttfb_ms=None, user_id=None,
        channel_id=None, model_multiplier="1", group_multiplier="1",
    )  # fmt: skip
    assert (row.request_id, row.endpoint, row.client_ip) == ("req_f", "messages", "")
