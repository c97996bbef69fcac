"""The per-call tools: Google Custom Search, Serper, Azure text-to-speech (docs/tools.md).

Each tool is served by channels like a model (base URL, keys in rotation, priority,
failover, breakers, timeouts), priced in the catalogue under its own name (per call, per
million characters), and runs the one call lifecycle (relay/call.py). The package sits
above ``relay`` (it uses the lifecycle and ``RelayService.open``) and below the
composition root, which mounts :class:`~relaygate.tools.routes.ToolsApp`.

Adding a tool (docs/tools.md, "Adding a tool"): its :class:`~relaygate.tools.record.Tool`
record (parameters, parse, answer), a provider for its channel type
(tools/providers.py, and the type in ``channels.options``), a route line
(tools/routes.py) and its OpenAPI operation (tools/openapi.py).
"""
