"""The checked-in spec extract is whole, and agrees with the full document when present."""

from __future__ import annotations

import json
import re
from pathlib import Path

SPEC = Path(__file__).resolve().parents[3] / "spec"
FULL = Path(__file__).resolve().parents[5] / "shared" / "spec" / "openai-openapi.json"
_REF = re.compile(r'"\$ref":\s*"#/components/schemas/([^"]+)"')


def test_every_reference_resolves_inside_the_extract() -> None:
    schemas = json.loads((SPEC / "openai-schemas.json").read_text())
    referenced = set(_REF.findall(json.dumps(schemas)))
    assert referenced <= set(schemas), sorted(referenced - set(schemas))
    for name in ("Response", "CreateChatCompletionResponse", "ResponseCompletedEvent"):
        assert name in schemas


def test_extract_matches_the_full_document_where_it_is_available() -> None:
    """On a developer machine the shared spec folder sits next to the checkout: the
    extract must be a faithful copy of it (rebuild with tests/spec/make_subset.py)."""
    schemas = json.loads((SPEC / "openai-schemas.json").read_text())
    if FULL.exists():
        full = json.loads(FULL.read_text())["components"]["schemas"]
        assert {name: full[name] for name in schemas} == schemas
    assert all(isinstance(schema, dict) for schema in schemas.values())
