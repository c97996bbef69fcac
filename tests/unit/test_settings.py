"""Settings: file < environment < explicit overrides; channels from TOML."""

from __future__ import annotations

from pathlib import Path

import pytest

from relaygate.settings import load_settings

TOML = """
[settings]
port = 9001
max_body_bytes = 1234

[[channels]]
name = "a"
type = "openai"
base_url = "http://127.0.0.1:1/v1"
api_key_env = "RG_TEST_UPSTREAM_KEY"
models = ["m1", "m2"]

[[channels]]
name = "b"
base_url = "http://127.0.0.1:2/v1"
models = { "public" = "upstream" }
"""


def test_file_values_channels_and_key_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "c.toml"
    path.write_text(TOML)
    monkeypatch.setenv("RG_TEST_UPSTREAM_KEY", "sk-from-env")
    settings = load_settings(path)
    assert settings.port == 9001 and settings.max_body_bytes == 1234
    a, b = settings.channels
    assert a.api_key == "sk-from-env"
    assert a.models == {"m1": "m1", "m2": "m2"}
    assert b.models == {"public": "upstream"} and b.type == "openai"


def test_environment_beats_file_and_overrides_beat_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "c.toml"
    path.write_text(TOML)
    monkeypatch.setenv("RELAYGATE_PORT", "9002")
    monkeypatch.setenv("RELAYGATE_MAX_BODY_BYTES", "99")
    assert load_settings(path).port == 9002
    settings = load_settings(path, port=9003)
    assert settings.port == 9003 and settings.max_body_bytes == 99
