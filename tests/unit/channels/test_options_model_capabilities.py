"""``options.model_capabilities`` in the TOML file: the documented example loads."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from relaygate.settings import load_settings

DOCS = Path(__file__).resolve().parents[3] / "docs" / "channels.md"


def _documented_example() -> str:
    """The TOML block of docs/channels.md's "Model capabilities" section."""
    section = DOCS.read_text().split("## Model capabilities", 1)[1]
    match = re.search(r"```toml\n(.*?)```", section, re.S)
    assert match is not None
    return match.group(1)


def test_the_documented_example_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "c.toml"
    path.write_text(_documented_example())
    monkeypatch.setenv("AZURE_KEY", "sk-azure")
    [channel] = load_settings(path).channels
    [(pattern, entry)] = channel.options.model_capabilities.items()
    assert pattern == "prod-r-*"
    assert (entry.reasoning, entry.max_tokens_field, entry.system_role) == (
        True,
        "max_completion_tokens",
        "developer",
    )
    assert (entry.parallel_tool_calls, entry.max_output_tokens, entry.sampling) == (
        False,
        100000,
        None,
    )
