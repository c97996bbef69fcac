"""A local, deterministic estimate of a Messages request's input tokens.

``POST /v1/messages/count_tokens`` has to answer even when the channel cannot count
(an OpenAI-compatible upstream, the echo model): clients use the number to decide when
to compact a conversation, so a steady, slightly generous estimate serves them better
than an error. Claude's tokenizer is not public, so this is a heuristic, not a count.

The method, so the number can be reproduced by hand:

* **Text** (system prompt, text blocks, tool results, thinking, tool names,
  descriptions and JSON schemas, tool_use inputs as compact JSON): one token per CJK
  character (Han, kana, Hangul, CJK punctuation and full-width forms), plus one token
  per started group of 4 other characters.
* **Images**: 1,600 tokens each, about what Anthropic charges for an image at the
  ~1.15 megapixel size it scales images down to (width × height / 750).
* **Documents** (PDF or URL sources): 3,000 tokens each, about one page of text plus
  its page image; a plain-text or content-block source is counted as text instead.
* **Overheads**: 3 tokens per request, 4 per message, 8 per tool definition, and 350
  once when tools are present (the tool-use system prompt Anthropic adds; its
  documented size is 159 to 530 tokens depending on model and ``tool_choice``).
* A block of an unknown type is counted as the text of its compact JSON.
"""

from __future__ import annotations

import math
import re
from typing import Any

import orjson

__all__ = ["estimate_input_tokens", "text_tokens"]

REQUEST_TOKENS = 3
MESSAGE_TOKENS = 4
TOOL_TOKENS = 8
TOOLS_PROMPT_TOKENS = 350
IMAGE_TOKENS = 1600
DOCUMENT_TOKENS = 3000

_CJK = re.compile(
    "[\u1100-\u11ff\u3000-\u30ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff"
    "\uac00-\ud7af\uf900-\ufaff\uff00-\uffef\U00020000-\U0003134f]"
)


def text_tokens(text: str) -> int:
    """Tokens of one piece of text: 1 per CJK character, 1 per 4 other characters."""
    if not text:
        return 0
    cjk = len(_CJK.findall(text))
    return cjk + math.ceil((len(text) - cjk) / 4)


def _json_tokens(value: Any) -> int:
    try:
        return text_tokens(orjson.dumps(value).decode())
    except TypeError:  # not JSON-serialisable: cannot come from a parsed body
        return 0


def _document_tokens(block: dict[str, Any]) -> int:
    source = block.get("source")
    kind = source.get("type") if isinstance(source, dict) else None
    if kind == "text" and isinstance(source, dict):
        return text_tokens(str(source.get("data", "")))
    if kind == "content" and isinstance(source, dict):
        return _content_tokens(source.get("content"))
    return DOCUMENT_TOKENS


def _block_tokens(block: Any) -> int:
    if not isinstance(block, dict):
        return _json_tokens(block)
    kind = block.get("type")
    if kind == "text":
        return text_tokens(str(block.get("text", "")))
    if kind == "image":
        return IMAGE_TOKENS
    if kind == "document":
        return _document_tokens(block)
    if kind == "thinking":
        return text_tokens(str(block.get("thinking", "")))
    if kind in ("tool_use", "server_tool_use"):
        return text_tokens(str(block.get("name", ""))) + _json_tokens(block.get("input", {}))
    if kind == "tool_result" or kind == "search_result":
        return _content_tokens(block.get("content"))
    return _json_tokens(block)


def _content_tokens(content: Any) -> int:
    """A message's ``content`` or a tool result's: a string or a list of blocks."""
    if content is None:
        return 0
    if isinstance(content, str):
        return text_tokens(content)
    if isinstance(content, list):
        return sum(_block_tokens(block) for block in content)
    return _block_tokens(content)


def _tool_tokens(tools: Any) -> int:
    if not isinstance(tools, list) or not tools:
        return 0
    total = TOOLS_PROMPT_TOKENS
    for tool in tools:
        total += TOOL_TOKENS
        if not isinstance(tool, dict):
            continue
        total += text_tokens(str(tool.get("name", "")))
        total += text_tokens(str(tool.get("description", "")))
        if "input_schema" in tool:
            total += _json_tokens(tool["input_schema"])
        elif tool.get("type"):  # a server tool (web_search_...): its own JSON
            total += _json_tokens(tool)
    return total


def estimate_input_tokens(body: dict[str, Any]) -> int:
    """The estimated ``input_tokens`` of a Messages (or count_tokens) request body."""
    total = REQUEST_TOKENS + _content_tokens(body.get("system"))
    messages = body.get("messages")
    if isinstance(messages, list):
        for message in messages:
            total += MESSAGE_TOKENS
            if isinstance(message, dict):
                total += _content_tokens(message.get("content"))
    return total + _tool_tokens(body.get("tools"))
