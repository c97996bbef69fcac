"""Schemathesis over the gateway's whole OpenAPI document: the document and the behaviour agree.

One gateway (SQLite, in-process uvicorn, real HTTP) is started for this module, and every
operation of ``/openapi.json`` gets one pytest item (``test_api_contract[POST /v1/...]``).
For each, schemathesis sends the ``coverage`` phase's cases (boundary values: the
largest integers, ``null`` where a value is required, missing fields, wrong types) and a
few ``fuzzing`` cases, all with the operator's management key, and checks that

* no answer is a 5xx                                  (``not_a_server_error``)
* every status answered is documented for the route   (``status_code_conformance``)
* every content type answered is documented           (``content_type_conformance``)
* a JSON answer matches its documented schema         (``response_schema_conformance``)
* a request valid under the schema is not refused     (``positive_data_acceptance``):
  the request schemas say what each route accepts, and the 400s of business rules no
  schema can express (a duplicate name, an unknown invite code) are accepted only for
  their operation (``BUSINESS_400``), each documented in that operation's 400 answer

The run is deterministic (a fixed seed, Hypothesis derandomised) and bounded (see
``MAX_EXAMPLES``); it takes about a minute on two slow cores.

A failure names the operation in the test id and prints schemathesis's report: what was
checked, the answer, and a ``curl`` line that replays the request against a gateway
started with ``make run`` (the operator key redacted: use your own). To reproduce the
whole run from a shell against a running gateway::

    st run http://127.0.0.1:8080/openapi.json -H "Authorization: Bearer $OPERATOR_KEY" \\
        --phases coverage,fuzzing --max-examples 5 --seed 20261207 \\
        -c not_a_server_error,status_code_conformance,content_type_conformance,\\
    response_schema_conformance,positive_data_acceptance

(the CLI run accepts no business-rule 400s and spells whole numbers as ``2.0``; see
``BUSINESS_400`` and ``_whole_numbers_as_integers`` for what this test adds).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.harness import ADMIN_KEY, Gateway, start_gateway

MAX_EXAMPLES = 5  # fuzzing cases per operation, on top of the coverage phase's cases
SEED = 20261207
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    positive_data_acceptance,
]
# The models the echo channel serves: the relay routes' documented examples, so the
# coverage phase's valid bodies are relayed and answered, not refused as unknown models.
ECHO_MODELS = ["gpt-4o-mini", "claude-sonnet-4-5"]

# ``positive_data_acceptance``: a request valid under the schema must not be refused. The
# schemas say what each route accepts; what no schema can say is a business rule about the
# gateway's state (a duplicate, a code or link that does not exist, an amount a kind of
# entry refuses). For those operations only, the documented 400 of that rule is accepted
# besides the check's default (2xx, 3xx, 401, 403, 404, 409, 429, 5xx), each with why.
_DEFAULT_ACCEPTANCE = '"2xx", "3xx", "401", "403", "404", "409", "429", "5xx"'
BUSINESS_400 = {
    # an address that has an account already
    "POST /api/v1/operator/users": "duplicate email",
    # a name that is taken
    "POST /api/v1/operator/package-types": "duplicate name",
    # an amount of 0 is a valid amount, but a top-up (kind=topup) must add money
    "POST /api/v1/operator/users/{user_id}/credit": "a top-up of 0",
    # a model the channel does not serve (the model names are the operator's)
    "POST /api/v1/operator/channels/{channel_id}/test": "a model the channel does not serve",
    # a cursor this listing did not hand out (opaque: no pattern tells one from another)
    "GET /api/v1/operator/usage": "a cursor the listing did not return",
    # tier thresholds out of order, an RPM table not from 0, a package type not defined
    "PUT /api/v1/operator/tiers": "thresholds that do not increase, an unknown package type",
    # an expiry already past (redemption codes), which a date format cannot rule out
    "POST /api/v1/operator/redemption-batches": "an expiry in the past",
    # a file's expiry in the past (or both an expiry and unset_expires_at)
    "POST /api/v1/user/files/upload": "an expiry in the past",
    "POST /api/v1/user/files/update": "an expiry in the past",
    # a redemption code that does not exist, is used up, expired or disabled
    "POST /api/v1/user/redeem": "an unknown redemption code",
    # an invite code nobody owns
    "POST /api/v1/auth/login": "an unknown invite code",
    "POST /api/v1/user/invite/redeem": "an unknown invite code",
    # a sign-in link that was never mailed, is used or expired
    "GET /api/v1/auth/verify": "an unknown sign-in token",
    "POST /api/v1/auth/verify": "an unknown sign-in token",
    # a passkey answer the authenticator did not make for a challenge the gateway issued
    "POST /api/v1/user/passkeys": "a credential that does not verify",
    # a name another channel has
    "POST /api/v1/operator/channels": "duplicate name",
    "PATCH /api/v1/operator/channels/{channel_id}": "duplicate name",
    # an `after` id that is not in the list (OpenAI's 400, test_state_api.py)
    "GET /v1/chat/completions": "an unknown `after` id",
    "GET /api/v1/ai/openai/cc-omg/v1/chat/completions": "an unknown `after` id",
    "GET /api/v1/ai/openai/codex-omg/v1/chat/completions": "an unknown `after` id",
    # an override rule the document's own checks refuse (a JSON pointer, a header name, a
    # regular expression, a name's characters) or naming an API key that is not the caller's
    "POST /api/v1/user/override-rules/create": "a rule field no schema can check",
    "POST /api/v1/user/override-rules/update": "a rule field no schema can check",
    "POST /api/v1/user/override-rules/copy": "a copy's name no schema can check",
    "POST /api/v1/user/override-rules/test": "a rule field no schema can check",
    "POST /api/v1/user/override-rules/import": "a rule field no schema can check",
    # Google returns nothing past its 100th result: start + num over 100 (docs/tools.md)
    "GET /api/v1/openapi/search/google/v1": "start + num past 100",
    "GET /api/v1/openapi/search/google/customsearch/v1": "start + num past 100",
    # an SSML body that is not well-formed, has no voice or no text; a text of spaces; a
    # rate or pitch past its range (a pattern says the form, not the range)
    "POST /api/v1/openapi/tts/azure/v1": "SSML that does not parse, a rate out of range",
    # Not a business rule but a limit of the generator: schemathesis sends a binary field
    # as a multipart part without a `filename`, and the gateway (like OpenAI) takes only a
    # part with a filename as an uploaded image, so its `image` is "missing".
    "POST /v1/images/edits": "an image part without a filename",
}
BUSINESS_RULES = "".join(
    f"""
# {why}
[[operations]]
include-name = "{name}"
checks.positive_data_acceptance.expected-statuses = [{_DEFAULT_ACCEPTANCE}, "400"]
"""
    for name, why in BUSINESS_400.items()
)

CONFIG = f"""
seed = {SEED}

[cache]
enabled = false

[generation]
deterministic = true
max-examples = {MAX_EXAMPLES}

[phases.examples]
enabled = false

[phases.stateful]
enabled = false
{BUSINESS_RULES}"""


def _seed(gw: Gateway) -> None:
    """What the operations need to reach their real work: an upstream for the relay routes
    and money for the operator's own account to spend."""
    gw.op(
        "POST",
        "/channels",
        json={"name": "contract-echo", "type": "echo", "models": ECHO_MODELS},
    )
    operator_user = gw.op("GET", "/users", params={"limit": 1})[0]["id"]
    gw.credit(int(operator_user), "1000")


@pytest.fixture(scope="module")
def contract_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gw = start_gateway(f"sqlite:///{tmp_path_factory.mktemp('contract')}/gw.db")
    try:
        _seed(gw)
        yield gw
    finally:
        gw.stop()


def _document() -> dict[str, Any]:
    """The document the gateway serves at ``/openapi.json``, built without serving it, so
    pytest can make one item per operation when it collects this module."""
    from relaygate.app import create_app
    from relaygate.settings import load_settings

    app = create_app(load_settings(database_url="sqlite:///:memory:"))
    document: dict[str, Any] = app.control.openapi()
    return document


# The route groups' copies of the /v1 operations are left out: the gateway serves them
# as the /v1 request they name, by the same handlers (relay/groups.py), and
# tests/integration/test_route_groups.py checks that each answers as /v1 does.
schema = schemathesis.openapi.from_dict(
    _document(), config=SchemathesisConfig.from_str(CONFIG)
).exclude(path_regex="^/api/v1/ai/openai/")


def _whole_numbers_as_integers(value: Any) -> Any:
    """``2.0`` → ``2`` throughout a JSON body. Under OpenAPI 3.1 schemathesis spells some
    integers as whole floats (JSON Schema calls ``2.0`` an integer), while the relay, like
    the SDKs' upstreams, takes an integer field (``n``, ``max_tokens``, ``top_logprobs``)
    only as an integer. The value is the same, so the case stays as valid as it was; only
    its spelling is the one clients send. Floats past 2**53 are left alone."""
    if isinstance(value, float) and value.is_integer() and abs(value) <= 2**53:
        return int(value)
    if isinstance(value, list):
        return [_whole_numbers_as_integers(v) for v in value]
    if isinstance(value, dict):
        return {k: _whole_numbers_as_integers(v) for k, v in value.items()}
    return value


@schema.parametrize()
def test_api_contract(case: Any, contract_gateway: Gateway) -> None:
    if (case.media_type or "").startswith("application/json"):
        case.body = _whole_numbers_as_integers(case.body)
    case.call_and_validate(
        base_url=contract_gateway.url,
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        checks=CHECKS,
    )


def test_the_run_reached_the_relay(contract_gateway: Gateway) -> None:
    """Runs after the contract items (pytest keeps file order): the valid bodies built
    from the documented examples were relayed to the echo channel and answered, so the
    run checked real answers (JSON and event streams), not only refusals. If this fails,
    the relay routes' ``model`` example and ``ECHO_MODELS`` have drifted apart."""
    answered = {r["endpoint"] for r in contract_gateway.usage(status=200, limit=1000)}
    assert {"chat/completions", "messages", "responses"} <= answered, answered
