"""The rules page's editor: a rule document as form fields and back, and the tester's sample.

Two views of one rule. The builder: plain fields for the match (comma-separated lists,
key and endpoint checkboxes), and numbered rows for the conditions (``cond-<n>-path``,
``-op``, ``-value``) and the actions (``act-<n>-type`` and the fields its type takes); a
row without a type (or path) is left out, so blank rows cost nothing and the page works
without script. The JSON view: the whole document in one textarea. Either way the result
is checked by the rule document's own validation (``rules.service.validate``), and its
errors are placed back on the row they are about (the message keeps the field's path).

A value typed into a ``set``/``default``/condition row is read as JSON when it is JSON
(``0.2``, ``true``, ``{"a": 1}``) and as text otherwise (``hello``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from relaygate.core.errors import InvalidRequest
from relaygate.web.i18n import N_

__all__ = [
    "ACTION_FIELDS",
    "RuleForm",
    "form_of_doc",
    "json_text",
    "read_builder",
    "read_json",
    "read_sample",
]

ACTION_FIELDS: Mapping[str, tuple[str, ...]] = {
    "rename_model": ("to",),
    "set": ("path", "value"),
    "default": ("path", "value"),
    "remove": ("path",),
    "clamp": ("path", "min", "max"),
    "system_prompt": ("mode", "text"),
    "set_header": ("name", "value"),
    "remove_header": ("name",),
    "block": ("message",),
}
_JSON_VALUES = frozenset({"set", "default"})  # a header's value stays text
_LISTS = ("route_groups", "models")
_BLANK_ROWS = 2
NOT_JSON = N_("This is not a JSON object.")
BAD_NUMBER = N_("Enter a whole number.")
_ROW = re.compile(r"^(actions|match\.conditions)\[(\d+)\]")


@dataclass(frozen=True, slots=True)
class RuleForm:
    """What the editor shows: the fields as typed, the rows, and errors by place
    (``name``, ``act-2``, ``cond-0``, ``json``, ``form``)."""

    values: Mapping[str, Any]
    actions: list[dict[str, str]]
    conditions: list[dict[str, str]]
    key_ids: frozenset[int] = frozenset()
    endpoints: frozenset[str] = frozenset()
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def blank(cls) -> RuleForm:
        values = {"priority": "100", "enabled": True}
        return cls(values, _pad([{"type": "rename_model"}]), _pad([]))

    def with_error(self, where: str | None, message: str, rows: Sequence[int] = ()) -> RuleForm:
        """The form with ``message`` placed on the row or field ``where`` names (``rows``
        maps a document's action index to the row it came from)."""
        place = _place(where, rows)
        return RuleForm(
            self.values,
            self.actions,
            self.conditions,
            self.key_ids,
            self.endpoints,
            {**self.errors, place: message},
        )


def _pad(rows: list[dict[str, str]], extra: int = _BLANK_ROWS) -> list[dict[str, str]]:
    return [*rows, *({} for _ in range(extra))]


def _place(where: str | None, rows: Sequence[int]) -> str:
    if not where:
        return "form"
    found = _ROW.match(where)
    if found is None:
        return where.split(".")[0].split("[")[0] if not where.startswith("match.") else "match"
    index = int(found.group(2))
    if found.group(1) == "actions":
        return f"act-{rows[index] if index < len(rows) else index}"
    return f"cond-{index}"


def json_text(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()


def _typed(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


def _number(text: str) -> Any:
    value = _typed(text)
    return value if isinstance(value, int | float) and not isinstance(value, bool) else text


def _split(text: str) -> list[str]:
    return [part.strip() for part in re.split(r"[,\n]", text) if part.strip()]


def form_of_doc(doc: Mapping[str, Any], *, extra_rows: int = _BLANK_ROWS) -> RuleForm:
    """The builder's fields of a stored (or exported) rule document."""
    match = doc.get("match", {})
    values: dict[str, Any] = {
        "name": doc.get("name", ""),
        "description": doc.get("description", ""),
        "priority": str(doc.get("priority", 100)),
        "enabled": bool(doc.get("enabled", True)),
        "model_regex": match.get("model_regex") or "",
        **{name: ", ".join(match.get(name) or ()) for name in _LISTS},
    }
    actions = []
    for action in doc.get("actions", []):
        row = {"type": str(action.get("type", ""))}
        for name in ACTION_FIELDS.get(row["type"], ()):
            value = action.get(name)
            if value is None and name not in action:
                continue
            json_value = name == "value" and row["type"] in _JSON_VALUES
            row[name] = json_text(value) if json_value or name in ("min", "max") else str(value)
        actions.append(row)
    conditions = [
        {
            "path": str(c.get("path", "")),
            "op": str(c.get("op", "")),
            "value": json_text(c["value"]) if "value" in c else "",
        }
        for c in match.get("conditions") or ()
    ]
    return RuleForm(
        values,
        _pad(actions, extra_rows),
        _pad(conditions, extra_rows),
        frozenset(match.get("key_ids") or ()),
        frozenset(match.get("endpoints") or ()),
    )


def _rows(form: Mapping[str, Any], prefix: str) -> list[dict[str, str]]:
    numbers = sorted(
        {int(m.group(1)) for key in form if (m := re.fullmatch(rf"{prefix}-(\d+)-\w+", key))}
    )
    rows = []
    for n in numbers[:100]:
        start = f"{prefix}-{n}-"
        rows.append({k.removeprefix(start): str(v) for k, v in form.items() if k.startswith(start)})
    return rows


def _action(row: Mapping[str, str]) -> dict[str, Any]:
    kind = row.get("type", "")
    action: dict[str, Any] = {"type": kind}
    for name in ACTION_FIELDS.get(kind, ()):
        text = row.get(name, "").strip() if name != "text" else row.get(name, "")
        if name in ("min", "max"):
            if text:
                action[name] = _number(text)
        elif name == "value" and kind in _JSON_VALUES:
            action[name] = _typed(text)
        else:
            action[name] = text
    return action


def read_builder(
    form: Mapping[str, Any], key_ids: Sequence[str], endpoints: Sequence[str]
) -> tuple[dict[str, Any], RuleForm, list[int]]:
    """The rule document the builder's fields describe, the form as typed, and which row
    each action came from."""
    values: dict[str, Any] = {
        name: str(form.get(name, "")).strip()
        for name in ("name", "description", "priority", "model_regex", *_LISTS)
    }
    values["enabled"] = str(form.get("enabled", "")) in ("on", "true", "1")
    actions = _rows(form, "act")
    conditions = _rows(form, "cond")
    shown = RuleForm(
        values,
        _pad(actions, 1),
        _pad(conditions, 1),
        frozenset(int(k) for k in key_ids if k.isdigit()),
        frozenset(endpoints),
    )
    match: dict[str, Any] = {name: _split(values[name]) for name in _LISTS if values[name]}
    if values["model_regex"]:
        match["model_regex"] = values["model_regex"]
    if shown.key_ids:
        match["key_ids"] = sorted(shown.key_ids)
    if shown.endpoints:
        match["endpoints"] = sorted(shown.endpoints)
    used_conditions = [c for c in conditions if c.get("path", "").strip()]
    if used_conditions:
        match["conditions"] = [_condition(c) for c in used_conditions]
    rows = [n for n, row in enumerate(actions) if row.get("type")]
    doc: dict[str, Any] = {
        "name": values["name"],
        "description": values["description"],
        "enabled": values["enabled"],
        "match": match,
        "actions": [_action(actions[n]) for n in rows],
    }
    if not values["priority"].isdigit():
        return doc, shown.with_error("priority", BAD_NUMBER), rows
    doc["priority"] = int(values["priority"])
    return doc, shown, rows


def _condition(row: Mapping[str, str]) -> dict[str, Any]:
    condition: dict[str, Any] = {"path": row.get("path", "").strip(), "op": row.get("op", "eq")}
    text = row.get("value", "").strip()
    if text or condition["op"] not in ("exists", "absent"):
        condition["value"] = _typed(text) if text else ""
    return condition


def read_json(text: str) -> dict[str, Any]:
    """The JSON view's document (an object), else the 400 the page shows on it."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise InvalidRequest(NOT_JSON, param="json") from None
    if not isinstance(value, dict):
        raise InvalidRequest(NOT_JSON, param="json")
    return value


def read_sample(text: str) -> dict[str, Any]:
    try:
        value = orjson.loads(text or "{}")
    except orjson.JSONDecodeError:
        raise InvalidRequest(NOT_JSON, param="sample") from None
    if not isinstance(value, dict):
        raise InvalidRequest(NOT_JSON, param="sample")
    return value
