"""The override rule document (the wire shape shared by the API, the store and the engine).

Validation happens here, once, when a rule is written: the engine trusts a ``RuleDoc`` and
never re-checks it on the relay path. Every refusal names the field it is about (pydantic's
error location, ``match.model_regex``, ``actions.2.name``), so the API can answer 400 with
that name. Pure: no database, kv or web imports (import-linter keeps it so).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import orjson
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

__all__ = [
    "ACTION_TYPES",
    "CONDITION_OPS",
    "DEFAULT_ROUTE_GROUP",
    "ENDPOINT_KINDS",
    "FORBIDDEN_HEADERS",
    "MAX_ACTIONS",
    "MAX_DOCUMENT_BYTES",
    "MAX_PATH_DEPTH",
    "Action",
    "BlockAction",
    "ClampAction",
    "Condition",
    "DefaultAction",
    "RemoveAction",
    "RemoveHeaderAction",
    "RenameModelAction",
    "RuleDoc",
    "RuleMatch",
    "SetAction",
    "SetHeaderAction",
    "SystemPromptAction",
    "Problem",
    "parse_pointer",
    "problems",
]

MAX_ACTIONS = 20  # the default restriction; the service may lower it
MAX_PATH_DEPTH = 8
MAX_DOCUMENT_BYTES = 16 * 1024
MAX_LIST = 100  # items in any list of a match
_MAX_VALUE_DEPTH = 16

DEFAULT_ROUTE_GROUP = "default"  # the name rules give the plain /v1 routes (no route group)
# what the relay's endpoints are called in a rule (the relay maps its own names onto these)
ENDPOINT_KINDS = (
    "chat",
    "responses",
    "messages",
    "completions",
    "embeddings",
    "moderations",
    "images",
    "audio",
    "count_tokens",
)
CONDITION_OPS = ("eq", "ne", "gt", "gte", "lt", "lte", "exists", "absent", "in")
ACTION_TYPES = (
    "rename_model",
    "set",
    "default",
    "remove",
    "clamp",
    "system_prompt",
    "set_header",
    "remove_header",
    "block",
)
# Headers a rule may never touch: the upstream's credentials are the channel's, and the
# framing headers are the HTTP client's (a wrong length or host breaks the call).
FORBIDDEN_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "x-api-key",
        "api-key",
        "x-goog-api-key",
        "cookie",
        "host",
        "content-length",
        "content-type",
        "transfer-encoding",
        "connection",
        "te",
        "upgrade",
    }
)

_NAME = re.compile(r"[A-Za-z0-9 _.\-\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]{1,64}")
_GROUP = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
_HEADER_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~\-]{1,100}")
_HEADER_VALUE = re.compile(r"[\t\x20-\x7e]{0,1000}")
_MODEL = re.compile(r"[^\s\x00-\x1f]{1,200}")

Op = Literal["eq", "ne", "gt", "gte", "lt", "lte", "exists", "absent", "in"]
Endpoint = Literal[
    "chat",
    "responses",
    "messages",
    "completions",
    "embeddings",
    "moderations",
    "images",
    "audio",
    "count_tokens",
]
Number = int | float
_Glob = Annotated[str, Field(min_length=1, max_length=200)]


def parse_pointer(path: str) -> tuple[str, ...]:
    """The reference tokens of a JSON pointer (RFC 6901): ``"/a~1b/0"`` -> ``("a/b", "0")``.

    ValueError names what is wrong; the whole document (``""``) is not a target a rule
    may address, and more than :data:`MAX_PATH_DEPTH` tokens are refused."""
    if not path.startswith("/"):
        raise ValueError("must be a JSON pointer starting with '/', such as '/max_tokens'")
    raw = path[1:].split("/")
    if len(raw) > MAX_PATH_DEPTH:
        raise ValueError(f"is deeper than {MAX_PATH_DEPTH} levels")
    tokens = []
    for token in raw:
        if re.search(r"~(?![01])", token):
            raise ValueError("has a '~' not followed by 0 or 1 (write '~0' for '~', '~1' for '/')")
        tokens.append(token.replace("~1", "/").replace("~0", "~"))
    return tuple(tokens)


def _depth(value: Any, level: int = 0) -> int:
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level + 1)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level + 1)
    return level


def _json_value(value: Any) -> Any:
    if _depth(value) > _MAX_VALUE_DEPTH:
        raise ValueError(f"is nested deeper than {_MAX_VALUE_DEPTH} levels")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Condition(_Strict):
    """One test of the request body: the value at ``path`` compared with ``value``.

    JSON equality (``true`` is not ``1``); ``gt``…``lte`` hold for numbers only; ``in``
    takes a list; ``exists``/``absent`` take no value. An absent field satisfies only
    ``absent`` and ``ne``."""

    path: Annotated[str, Field(max_length=512)]
    op: Op
    value: Any = None

    @field_validator("path")
    @classmethod
    def _path(cls, path: str) -> str:
        parse_pointer(path)
        return path

    @field_validator("value")
    @classmethod
    def _value(cls, value: Any) -> Any:
        return _json_value(value)

    @model_validator(mode="after")
    def _value_fits_op(self) -> Condition:
        op, value = self.op, self.value
        if op in ("gt", "gte", "lt", "lte") and not _is_number(value):
            raise ValueError(f"value: the '{op}' condition compares with a number")
        if op == "in" and not isinstance(value, list):
            raise ValueError("value: the 'in' condition takes a list of values")
        if op in ("exists", "absent") and value is not None:
            raise ValueError(f"value: the '{op}' condition takes no value")
        return self


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class RuleMatch(_Strict):
    """When a rule applies: every condition given must hold (absent ones match anything)."""

    route_groups: Annotated[list[str], Field(max_length=MAX_LIST)] | None = None
    endpoints: Annotated[list[Endpoint], Field(max_length=len(ENDPOINT_KINDS))] | None = None
    models: Annotated[list[_Glob], Field(max_length=MAX_LIST)] | None = None
    model_regex: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    key_ids: Annotated[list[Annotated[int, Field(ge=1)]], Field(max_length=MAX_LIST)] | None = None
    conditions: Annotated[list[Condition], Field(max_length=20)] | None = None

    @field_validator("route_groups")
    @classmethod
    def _groups(cls, groups: list[str] | None) -> list[str] | None:
        for group in groups or ():
            if not _GROUP.fullmatch(group):
                raise ValueError(f"'{group}' is not a route group name")
        return groups

    @field_validator("model_regex")
    @classmethod
    def _regex(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"is not a valid regular expression: {exc}") from None
        return pattern


class _PathAction(_Strict):
    path: Annotated[str, Field(max_length=512)]

    @field_validator("path")
    @classmethod
    def _path(cls, path: str) -> str:
        tokens = parse_pointer(path)
        if tokens[0] == "model":
            raise ValueError("'/model' is changed with a rename_model action, not with a path")
        return path


class RenameModelAction(_Strict):
    type: Literal["rename_model"]
    to: str

    @field_validator("to")
    @classmethod
    def _model(cls, model: str) -> str:
        if not _MODEL.fullmatch(model):
            raise ValueError("must be a model name (1-200 characters, no spaces)")
        return model


class _ValueAction(_PathAction):
    value: Any

    @field_validator("value")
    @classmethod
    def _value(cls, value: Any) -> Any:
        return _json_value(value)


class SetAction(_ValueAction):
    """Create or overwrite (missing parent objects are created)."""

    type: Literal["set"]


class DefaultAction(_ValueAction):
    """Set only when the field is absent."""

    type: Literal["default"]


class RemoveAction(_PathAction):
    type: Literal["remove"]


class ClampAction(_PathAction):
    type: Literal["clamp"]
    min: Number | None = None
    max: Number | None = None

    @model_validator(mode="after")
    def _bounds(self) -> ClampAction:
        if self.min is None and self.max is None:
            raise ValueError("min: a clamp needs a min, a max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min: is larger than max")
        return self


class SystemPromptAction(_Strict):
    type: Literal["system_prompt"]
    mode: Literal["prepend", "append", "replace"]
    text: Annotated[str, Field(min_length=1, max_length=MAX_DOCUMENT_BYTES)]


class _HeaderAction(_Strict):
    name: str

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        if not _HEADER_NAME.fullmatch(name):
            raise ValueError("is not an HTTP header name")
        name = name.lower()
        if name in FORBIDDEN_HEADERS:
            raise ValueError(
                f"'{name}' is an authentication or framing header; rules cannot change it"
            )
        return name


class SetHeaderAction(_HeaderAction):
    type: Literal["set_header"]
    value: str

    @field_validator("value")
    @classmethod
    def _value(cls, value: str) -> str:
        if not _HEADER_VALUE.fullmatch(value):
            raise ValueError(
                "must be printable ASCII without line breaks (at most 1000 characters)"
            )
        return value


class RemoveHeaderAction(_HeaderAction):
    type: Literal["remove_header"]


class BlockAction(_Strict):
    type: Literal["block"]
    message: Annotated[str, Field(min_length=1, max_length=500)]


Action = Annotated[
    RenameModelAction
    | SetAction
    | DefaultAction
    | RemoveAction
    | ClampAction
    | SystemPromptAction
    | SetHeaderAction
    | RemoveHeaderAction
    | BlockAction,
    Field(discriminator="type"),
]


class RuleDoc(_Strict):
    """One override rule as a user writes it (docs/rules.md)."""

    name: str
    description: Annotated[str, Field(max_length=500)] = ""
    enabled: bool = True
    priority: Annotated[int, Field(ge=0, le=10000)] = 100  # lower runs first
    match: RuleMatch = Field(default_factory=RuleMatch)
    actions: Annotated[list[Action], Field(min_length=1, max_length=MAX_ACTIONS)]

    @model_validator(mode="before")
    @classmethod
    def _size(cls, data: Any) -> Any:
        try:
            size = len(orjson.dumps(data))
        except TypeError:
            return data  # not JSON at all: the field validators say which part
        if size > MAX_DOCUMENT_BYTES:
            raise ValueError(f"the rule document is {size} bytes; at most {MAX_DOCUMENT_BYTES}")
        return data

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        if not _NAME.fullmatch(name):
            raise ValueError(
                "must be 1-64 letters, digits, spaces, '_', '.', '-' (Chinese, Japanese and "
                "Korean letters allowed)"
            )
        return name


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason a rule document was refused: the field (``match.model_regex``,
    ``actions.2.path``; ``""`` for the document as a whole) and what is wrong with it."""

    field: str
    message: str


def problems(exc: ValidationError) -> list[Problem]:
    """``exc``'s errors as the API reports them: pydantic's location without the action
    type it adds (``actions.0.set.path`` -> ``actions.0.path``) and without its "Value
    error, " prefix; a message that starts with a field name (``value: …``) moves it
    into the location."""
    found = []
    for error in exc.errors():
        loc = [str(part) for part in error["loc"]]
        parts = [
            p for i, p in enumerate(loc) if not (i and loc[i - 1].isdigit() and p in ACTION_TYPES)
        ]
        message = str(error["msg"]).removeprefix("Value error, ")
        head, sep, rest = message.partition(": ")
        if sep and head.isidentifier() and head.islower():
            parts.append(head)
            message = rest
        found.append(Problem(".".join(parts), message))
    return found
