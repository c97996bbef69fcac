"""relay/groups.py: which /v1 request a route group's path names."""

from __future__ import annotations

import pytest

from relaygate.relay.groups import Grouped, group_of, sent_path, ungroup

CC = "/api/v1/ai/openai/cc-omg"


@pytest.mark.parametrize(
    ("path", "served"),
    [
        (CC + "/v1/messages", "/v1/messages"),
        (
            CC + "/v1/chat/completions/chatcmpl_1/messages",
            "/v1/chat/completions/chatcmpl_1/messages",
        ),
        (CC + "//v1/messages", "/v1/messages"),  # a base URL given with a trailing "/"
        (CC + "/models", "/v1/models"),
        (CC + "/models/org/model-a", "/v1/models/org/model-a"),
        ("/api/v1/ai/openai/codex-omg/v1/responses", "/v1/responses"),
    ],
)
def test_a_group_path_names_its_v1_path(path: str, served: str) -> None:
    grouped = ungroup(path)
    assert grouped is not None and (grouped.path, grouped.original) == (served, path)
    scope = {"path": served, "relaygate.route_group": grouped}
    assert (group_of(scope), sent_path(scope)) == (path.split("/")[5], path)


@pytest.mark.parametrize(
    "path",
    [CC, CC + "/", CC + "/api/hello", CC + "/v2/models", CC + "/modelsx",
     "/api/v1/ai/openai/other/v1/messages", "/api/v1/ai/openai/", "/v1/messages"],
)  # fmt: skip
def test_other_paths_name_none(path: str) -> None:
    assert ungroup(path) is None


def test_a_plain_request_has_no_group() -> None:
    assert (group_of({"path": "/v1/models"}), sent_path({"path": "/v1/models"})) == (
        "",
        "/v1/models",
    )
    assert Grouped("cc-omg", "/v1/models", CC + "/models").group == "cc-omg"
