"""The one error tree of Relaygate.

Every error a client can see is a :class:`RelaygateError`. Services and providers raise
them; one renderer per wire dialect turns them into that dialect's error body
(OpenAI ``{"error": {...}}``, Anthropic ``{"type": "error", ...}``, the platform
envelope). ``status`` picks the HTTP status, ``type`` and ``code`` fill the body.

    RelaygateError                      500 server_error
    ├── ClientError                     4xx, the caller can fix it
    │   ├── InvalidRequest              400
    │   ├── AuthenticationFailed        401 invalid_api_key
    │   ├── ModelNotPermitted           401 model_not_permitted
    │   ├── InsufficientBalance         402
    │   ├── PermissionDenied            403
    │   │   └── BlockedByRule           403 blocked_by_rule (the user's override rule)
    │   ├── NotFound                    404
    │   │   └── ModelNotFound           404 model_not_found
    │   ├── Conflict                    409
    │   ├── PayloadTooLarge             413
    │   ├── RangeNotSatisfiable         416
    │   ├── RateLimited                 429
    │   └── HeadersTooLarge             431
    ├── ServiceUnavailable              503 service_unavailable (a store of ours is away)
    └── UpstreamFailure                 5xx, an upstream channel failed us
        ├── UpstreamBadResponse         502
        │   └── AnswerOffSchema         502 invalid_structured_output
        ├── UpstreamUnavailable         503
        │   └── UpstreamOverloaded      529 (Anthropic callers only)
        └── UpstreamTimeout             504

Upstream errors never carry an upstream key, host or stack trace in ``message``.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "AnswerOffSchema",
    "AuthenticationFailed",
    "BlockedByRule",
    "ClientError",
    "Conflict",
    "HeadersTooLarge",
    "InsufficientBalance",
    "InvalidRequest",
    "ModelNotFound",
    "ModelNotPermitted",
    "NotFound",
    "PayloadTooLarge",
    "PermissionDenied",
    "RangeNotSatisfiable",
    "RateLimited",
    "RelaygateError",
    "ServiceUnavailable",
    "UpstreamBadResponse",
    "UpstreamFailure",
    "UpstreamOverloaded",
    "UpstreamTimeout",
    "UpstreamUnavailable",
]


class RelaygateError(Exception):
    status: ClassVar[int] = 500
    type: ClassVar[str] = "server_error"
    anthropic_type: ClassVar[str] = "api_error"
    default_code: ClassVar[str | None] = None

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code if code is not None else self.default_code
        self.headers = headers or {}


class ServiceUnavailable(RelaygateError):
    """A store the gateway itself depends on (Redis in the scale-out mode) cannot be
    reached: no limit or hold can be checked, so the call is refused (fail closed) with
    a status clients retry, not a 500 that reads as a bug (docs/replicas.md)."""

    status = 503
    anthropic_type = "overloaded_error"
    default_code = "service_unavailable"


class ClientError(RelaygateError):
    status = 400
    type = "invalid_request_error"
    anthropic_type = "invalid_request_error"


class InvalidRequest(ClientError):
    pass


class AuthenticationFailed(ClientError):
    status = 401
    anthropic_type = "authentication_error"
    default_code = "invalid_api_key"


class ModelNotPermitted(AuthenticationFailed):
    default_code = "model_not_permitted"


class InsufficientBalance(ClientError):
    status = 402
    type = "insufficient_balance_error"
    anthropic_type = "billing_error"
    default_code = "insufficient_balance"


class PermissionDenied(ClientError):
    status = 403
    type = "permission_error"
    anthropic_type = "permission_error"


class BlockedByRule(PermissionDenied):
    """One of the caller's own override rules refused the call (docs/rules.md); the
    message is the rule's."""

    default_code = "blocked_by_rule"


class NotFound(ClientError):
    status = 404
    anthropic_type = "not_found_error"


class ModelNotFound(NotFound):
    default_code = "model_not_found"


class Conflict(ClientError):
    """The change is well-formed but the current state forbids it."""

    status = 409
    default_code = "conflict"


class PayloadTooLarge(ClientError):
    status = 413
    anthropic_type = "request_too_large"
    default_code = "request_too_large"


class RangeNotSatisfiable(ClientError):
    """A ``Range`` that starts past the end of a download (its ``content-range`` header
    gives the size)."""

    status = 416
    default_code = "range_not_satisfiable"


class RateLimited(ClientError):
    status = 429
    type = "requests"
    anthropic_type = "rate_limit_error"
    default_code = "rate_limit_exceeded"


class HeadersTooLarge(ClientError):
    status = 431
    default_code = "headers_too_large"


class UpstreamFailure(RelaygateError):
    status = 502
    type = "upstream_error"
    anthropic_type = "api_error"


class UpstreamBadResponse(UpstreamFailure):
    default_code = "bad_gateway"


class AnswerOffSchema(UpstreamBadResponse):
    """A translated answer that breaks the response schema the caller asked to be held
    to (``strict: true``). The channel worked (its breaker is not told of a failure);
    the model did not follow the schema."""

    default_code = "invalid_structured_output"


class UpstreamUnavailable(UpstreamFailure):
    status = 503
    anthropic_type = "overloaded_error"
    default_code = "upstream_unavailable"


class UpstreamOverloaded(UpstreamUnavailable):
    """Anthropic's 529, passed on to Anthropic callers (their clients retry it)."""

    status = 529


class UpstreamRateLimited(UpstreamFailure):
    """Every channel that could serve the call is rate-limited upstream. The caller gets
    the gateway's own 429 (with the upstream's ``retry-after``), never the upstream's
    text, which names the operator's upstream account."""

    status = 429
    type = "requests"
    anthropic_type = "rate_limit_error"
    default_code = "upstream_rate_limited"


class UpstreamTimeout(UpstreamFailure):
    status = 504
    anthropic_type = "timeout_error"
    default_code = "upstream_timeout"
