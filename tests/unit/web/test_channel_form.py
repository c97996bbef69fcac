"""The console's channel form read into the channel API's models: the same checks as the
JSON API, errors on the field they concern, keys never put back into the form."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from relaygate.channels.models import Channel
from relaygate.web.channel_form import form_of, key_hints, read_create, read_patch
from relaygate.web.forms import FormErrors

KEY = "sk-formUnitTestKey-0123456789abcdef"


def _row(**fields: object) -> Channel:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    values: dict[str, object] = {
        "id": 7,
        "name": "main",
        "type": "openai",
        "base_url": "https://up.example/v1",
        "api_key": KEY,
        "models": {"gpt-4o": "gpt-4o", "fast": "gpt-4o-mini"},
        "priority": 1,
        "weight": 2,
        "enabled": True,
        "headers": {"X-Org": "org-secret-value"},
        "options": {"proxy_url": "http://u:proxy-pass@proxy.example:3128"},
        "source": "api",
        "created_at": now,
        "updated_at": now,
    }
    values.update(fields)
    return Channel(**values)


def test_create_reads_models_keys_and_headers() -> None:
    fields = read_create(
        {
            "name": " main ",
            "type": "anthropic",
            "base_url": "https://up.example",
            "models": "claude-x\nfast = claude-y\n\n",
            "api_key": "k1\nk2",
            "headers": "X-One: 1",
            "priority": "3",
            "weight": "4",
            "enabled": "on",
            "options": '{"connect_timeout": 5}',
        }
    )
    assert fields["name"] == "main"
    assert fields["models"] == {"claude-x": "claude-x", "fast": "claude-y"}
    assert fields["api_key"] == "k1\nk2"
    assert fields["headers"] == {"X-One": "1"}
    assert (fields["priority"], fields["weight"], fields["enabled"]) == (3, 4, True)
    assert fields["options"]["connect_timeout"] == 5


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"type": "openai", "base_url": "ftp://x"}, "base_url"),
        ({"type": "gopher", "base_url": "https://x"}, "type"),
        ({"type": "openai", "base_url": "https://x", "weight": "0"}, "weight"),
        ({"type": "openai", "base_url": "https://x", "models": "= upstream"}, "models"),
        ({"type": "openai", "base_url": "https://x", "options": "[]"}, "options"),
        ({"type": "openai", "base_url": "https://x", "headers": "no colon"}, "headers"),
    ],
)
def test_create_errors_name_their_field(form: dict[str, str], field: str) -> None:
    with pytest.raises(FormErrors) as caught:
        read_create({"name": "n", **form})
    assert field in caught.value.errors


def test_the_form_of_a_channel_carries_no_secret() -> None:
    shown = form_of(_row())
    text = repr(shown)
    assert KEY not in text and "org-secret-value" not in text and "proxy-pass" not in text
    assert shown.header_names == ("X-Org",)
    assert "fast = gpt-4o-mini" in shown.models


def test_an_edit_with_empty_boxes_keeps_keys_headers_and_options() -> None:
    row = _row()
    shown = form_of(row)
    changes = read_patch(
        {
            "name": "main",
            "base_url": row.base_url,
            "models": shown.models,
            "priority": "9",
            "weight": "2",
            "enabled": "on",
            "api_key": "",
            "headers": "",
            "options": shown.options,  # the masked proxy sent back unchanged
        },
        row,
    )
    assert changes["priority"] == 9
    assert "api_key" not in changes and "headers" not in changes and "options" not in changes


def test_key_hints_show_only_the_ends() -> None:
    assert key_hints(f"{KEY}\nshort") == ("sk-…cdef", "…")
    assert key_hints(None) == ()
