"""The Grafana dashboard and the metrics table of docs/observability.md name only
metrics the gateway exports, so a renamed metric cannot leave a panel blank."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from relaygate.ops.metrics import ChannelReading, Metrics, Readings

DOCS = Path(__file__).resolve().parents[3] / "docs"
NAME = re.compile(r"\brelaygate_[a-z_]+")


def _exported() -> set[str]:
    metrics = Metrics()
    metrics.read_from(
        lambda: Readings(channels=(ChannelReading(1, "c", "openai", "closed", 0, 0),))
    )
    metrics.call_series("/v1/chat/completions", "POST", 200, "m", False).requests.inc()
    metrics.model_series("m").prompt.inc()
    metrics.committed(1, 0.001)
    text = metrics.exposition().decode()
    return {s.name for f in text_string_to_metric_families(text) for s in f.samples}


def test_every_panel_queries_exported_metrics() -> None:
    dashboard = json.loads((DOCS / "grafana-relaygate.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", ())]
    assert len(exprs) > 20
    used = {name for expr in exprs for name in NAME.findall(expr)}
    assert sorted(used - _exported()) == []


def test_the_documented_metrics_are_exported() -> None:
    text = (DOCS / "observability.md").read_text()
    table = re.findall(r"^\| `(relaygate_[a-z_]+)` \|", text, re.MULTILINE)
    assert len(table) >= 14
    exported = _exported()
    missing = [
        n for n in table if not {n, n + "_count", n + "_total"} & exported and n not in exported
    ]
    assert missing == []
