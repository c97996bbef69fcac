"""The two-channel weighted scenario (issue 6): ``--scenarios weighted``.

One model (``bench-weighted``) is served by two channels at the same priority with weights
3 and 1, each pointing at its own listener of the nginx mock. The router draws a channel per
call in proportion to the weights, so this scenario shows what the draw costs (the usual
table row: RPS, latency, CPU per call against a direct call) and whether the split holds
under load. A gateway could look fast by always picking one channel; counting what each
upstream *received* rules that out.

Counting: each listener writes one access-log line per request (``mock.counted_log``); the
counts are read before and after the gateway runs of every concurrency. An unbuffered log
line per request costs nginx a ``write()``, which is small next to the gateway's cost and
stays on the load core. At the end the gateway's own view (``usage_records.channel_id``) is
compared with the logs: every call an upstream answered must have exactly one record.
"""

from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import orjson

from bench import mock
from bench.common import free_port

NAME = "weighted"
MODEL = "bench-weighted"
WEIGHTS = (3, 1)
CHANNELS = tuple(f"bench-weighted-{i + 1}" for i in range(len(WEIGHTS)))
# |z| above this is a routing bug, not bad luck: the chance is ~6e-5 per channel and point.
Z_LIMIT = 4.0


def request_body() -> bytes:
    """The non-stream request of the other scenarios, for the weighted model."""
    return orjson.dumps({"model": MODEL, "messages": [{"role": "user", "content": "hi"}]})


def expected_shares() -> tuple[float, ...]:
    return tuple(w / sum(WEIGHTS) for w in WEIGHTS)


@dataclass
class Share:
    """What each upstream received during the gateway runs of one concurrency."""

    concurrency: int
    counts: tuple[int, ...]

    @property
    def total(self) -> int:
        return sum(self.counts)

    @property
    def shares(self) -> tuple[float, ...]:
        n = self.total
        return tuple(c / n if n else float("nan") for c in self.counts)

    @property
    def z(self) -> float:
        """The largest deviation from the expected count, in binomial standard deviations.

        Each call is an independent draw, so a channel's count is binomial(n, p): a fixed
        tolerance in percent would be too loose for long runs and too strict for short ones.
        """
        n = self.total
        if not n:
            return float("nan")
        return max(
            (
                (c - n * p) / math.sqrt(n * p * (1 - p))
                for c, p in zip(self.counts, expected_shares(), strict=True)
            ),
            key=abs,
        )


class Split:
    """The scenario's two listeners, their channels, and the split measured per point."""

    def __init__(self, work: Path) -> None:
        self.work = work
        ports: list[int] = []
        while len(ports) < len(WEIGHTS):  # free_port() may hand out the same port twice
            if (port := free_port()) not in ports:
                ports.append(port)
        self.ports = tuple(ports)
        self.points: list[Share] = []

    def toml(self) -> str:
        """Channels and price for the gateway's config (priced, so calls are billed as usual)."""
        out = ""
        for name, weight, port in zip(CHANNELS, WEIGHTS, self.ports, strict=True):
            out += f"""
[[channels]]
name = "{name}"
type = "openai"
base_url = "http://127.0.0.1:{port}/json/v1"
api_key = "sk-upstream-bench"
models = ["{MODEL}"]
priority = 0
weight = {weight}
"""
        return out + f'\n[[models]]\nname = "{MODEL}"\ninput = "2.50"\noutput = "10.00"\n'

    def counts(self) -> tuple[int, ...]:
        """Requests each listener has answered so far (lines in its access log)."""
        out = []
        for port in self.ports:
            log = mock.counted_log(self.work, port)
            out.append(log.read_bytes().count(b"\n") if log.exists() else 0)
        return tuple(out)

    def record(self, concurrency: int, before: tuple[int, ...], warnings: list[str]) -> None:
        """Store and print the split since ``before``; warn when it is off or empty."""
        share = Share(concurrency, tuple(b - a for a, b in zip(before, self.counts(), strict=True)))
        self.points.append(share)
        print(f"  {NAME} c={concurrency} split: {self.describe(share)}", flush=True)
        if not share.total:
            warnings.append(f"{NAME} c={concurrency}: no request reached the weighted upstreams")
        elif abs(share.z) > Z_LIMIT:
            warnings.append(
                f"{NAME} c={concurrency}: split {self.describe(share)} is off by more than "
                f"{Z_LIMIT:g} standard deviations"
            )

    @staticmethod
    def describe(share: Share) -> str:
        observed = " / ".join(f"{s:.1%}" for s in share.shares)
        expected = " / ".join(f"{s:.0%}" for s in expected_shares())
        return f"{observed} of {share.total:,} (expected {expected}, z {share.z:+.1f})"

    def markdown(self, db: Path | None, warnings: list[str]) -> list[str]:
        """The split table, and the logs' totals against the gateway's usage records."""
        if not self.points:
            return []
        names = " | ".join(f"{n} (weight {w})" for n, w in zip(CHANNELS, WEIGHTS, strict=True))
        expected = " / ".join(f"{s:.0%}" for s in expected_shares())
        lines = [
            f"Split of `{NAME}` (model `{MODEL}`: {len(WEIGHTS)} channels at priority 0, "
            f"weights {':'.join(map(str, WEIGHTS))}, one mock listener each; requests counted "
            "in each listener's access log over the gateway runs of each point, retries "
            "included):",
            "",
            f"| c | calls | {names} | expected | z |",
            "|---:|---:|" + "---:|" * len(WEIGHTS) + "---|---:|",
        ]
        for p in self.points:
            cells = " | ".join(f"{c:,} ({s:.1%})" for c, s in zip(p.counts, p.shares, strict=True))
            lines.append(f"| {p.concurrency} | {p.total:,} | {cells} | {expected} | {p.z:+.1f} |")
        logs = self.counts()
        recorded = usage_by_channel(db) if db is not None else {}
        rec = tuple(recorded.get(n, 0) for n in CHANNELS)
        lines += [
            "",
            "Whole run, warm-up included: the upstreams' logs "
            + ", ".join(f"{n} {c:,}" for n, c in zip(CHANNELS, logs, strict=True))
            + "; the gateway's usage records "
            + ", ".join(f"{n} {c:,}" for n, c in zip(CHANNELS, rec, strict=True))
            + ".",
            "",
        ]
        if db is not None and rec != logs:
            warnings.append(f"{NAME}: usage records by channel {rec} differ from the logs {logs}")
        return lines


def usage_by_channel(db: Path) -> dict[str, int]:
    """Successful calls of the weighted model per channel name, from the gateway's SQLite."""
    if not db.exists():
        return {}
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        rows = con.execute(
            "select c.name, count(*) from usage_records u join channels c on c.id = u.channel_id"
            " where u.model = ? and u.status = 200 group by c.name",
            (MODEL,),
        ).fetchall()
    except sqlite3.Error as e:
        print(f"could not read usage records by channel from {db}: {e}", flush=True)
        return {}
    finally:
        con.close()
    return {str(name): int(n) for name, n in rows}
