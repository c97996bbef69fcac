"""The OpenAI Responses dialect (``POST /v1/responses``), as pure translation code.

Any channel can serve a Responses call: a Chat Completions or Anthropic channel through
the canonical model (``convert``, ``stream.ResponsesTranslator``), a native Responses
channel relayed and metered as it is (``stream.ResponsesScanner``, ``convert.read_usage``).
The state the Responses API keeps (``previous_response_id`` chains, conversations) is the
gateway's: it hands the stored items in as ``history`` and stores the ``Response`` and
``input_items`` this package builds. What maps, what is dropped and what is refused:
docs/compatibility.md, section "Responses API".
"""
