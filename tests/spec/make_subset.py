"""Rebuild ``openai-schemas.json`` from the full OpenAI OpenAPI document.

The tests check translated bodies and events against OpenAI's published schemas. The
full document (3.4 MB, MIT, github.com/openai/openai-openapi at f85dbe2) lives outside
this repository, in the project's shared spec folder; the tests use this checked-in
extract instead, so a clean clone needs nothing else: every schema the tests name, every
Responses/Chat/Conversation schema, and everything those refer to.

    python tests/spec/make_subset.py ../shared/spec/openai-openapi.json
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
PREFIXES = ("Response", "ChatCompletion", "CreateChatCompletion", "Conversation", "Error")
_REF = re.compile(r'"\$ref":\s*"#/components/schemas/([^"]+)"')
_LITERAL = re.compile(r'"([A-Za-z][A-Za-z0-9_.]*)"')


def roots(schemas: dict[str, object]) -> set[str]:
    named = {n for n in schemas if n.startswith(PREFIXES)}
    for path in TESTS.rglob("*.py"):
        named |= {lit for lit in _LITERAL.findall(path.read_text()) if lit in schemas}
    events = (HERE / "stream-events.json").read_text()
    named |= {lit for lit in _LITERAL.findall(events) if lit in schemas}
    return named


def closure(schemas: dict[str, object], start: set[str]) -> dict[str, object]:
    seen: set[str] = set()
    stack = sorted(start)
    while stack:
        name = stack.pop()
        if name not in seen:
            seen.add(name)
            stack.extend(_REF.findall(json.dumps(schemas[name])))
    return {name: schemas[name] for name in sorted(seen)}


def main(source: str) -> None:
    schemas = json.loads(Path(source).read_text())["components"]["schemas"]
    subset = closure(schemas, roots(schemas))
    (HERE / "openai-schemas.json").write_text(json.dumps(subset, indent=0, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
