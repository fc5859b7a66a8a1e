"""The SDK's exceptions (docs/contract.md §2).

Every error the SDK raises is an :class:`InferenceKeyError`, so one ``except`` catches
them all; subclasses follow the HTTP status or local cause. Instances are created by
the native layer with the core's message, which starts with a documented prefix
(``validation error: …``, ``permission denied [<code>]: …``) and never contains a
secret.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from typing import Any


class InferenceKeyError(Exception):
    """Base class of every SDK error.

    Attributes (``None`` or empty when unknown):
        status: the HTTP status, for errors the server answered.
        code: the machine code (``validation_failed``, ``scope_insufficient``, …).
        field: the first offending field path, for validation and configuration errors.
        problems: every ``(field, message)`` local validation found.
        request_id: the server's request id, to quote in a support ticket.
        retry_after: seconds the server asked to wait (429 and 503).
        headers: the error response's headers by lower-case name (empty when no response
            arrived).
    """

    status: int | None
    code: str | None
    field: str | None
    problems: list[tuple[str, str]]
    request_id: str | None
    retry_after: float | None
    headers: dict[str, str]

    def __init__(
        self,
        message: str = "",
        *,
        status: int | None = None,
        code: str | None = None,
        field: str | None = None,
        problems: Iterable[tuple[str, str]] = (),
        request_id: str | None = None,
        retry_after: float | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.field = field
        self.problems = [(str(f), str(m)) for f, m in problems]
        self.request_id = request_id
        self.retry_after = retry_after
        self.headers = dict(headers) if headers else {}

    @property
    def message(self) -> str:
        """The full message, as ``str(exc)``."""
        return str(self.args[0]) if self.args else ""


class AuthError(InferenceKeyError):
    """401: the token is missing, malformed, unknown, revoked or expired."""


class PermissionDenied(InferenceKeyError):
    """403, or a token used on the wrong plane; ``.code`` says which
    (``wrong_credential_type``, ``project_scope_mismatch``, ``scope_insufficient``)."""


class NotFoundError(InferenceKeyError):
    """404: the workload, project or job does not exist or is not visible to this token."""


class ValidationError(InferenceKeyError):
    """A field is invalid, found locally or answered 400/422 by the server; ``.field``
    names it and ``.problems`` lists every problem found locally."""


class DriftError(ValidationError):
    """``ensure(on_drift=OnDrift.FAIL)`` found drift. ``.plan`` lists what would have
    changed as ``(field, live, desired)``; nothing was written."""

    plan: list[tuple[str, Any, Any]]

    def __init__(
        self,
        message: str = "",
        *,
        plan: Iterable[tuple[str, Any, Any]] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.plan = [(str(f), live, desired) for f, live, desired in plan]


class ConflictError(InferenceKeyError):
    """409: a slug conflict, or an idempotency key still in use."""


class RateLimitError(InferenceKeyError):
    """429: too many requests; ``.retry_after`` says how long to wait."""


class ServerError(InferenceKeyError):
    """5xx, including ``workload_not_ready`` (with ``.retry_after``) and
    ``backend_unavailable``."""


class ConnectionError(InferenceKeyError, builtins.ConnectionError):
    """The connection could not be made or broke. Also a builtin ``ConnectionError``, so
    generic network handling catches it."""


class TimeoutError(InferenceKeyError, builtins.TimeoutError):
    """A connect, read or total deadline passed. Also a builtin ``TimeoutError``."""


class ConfigurationError(InferenceKeyError):
    """Local misconfiguration, found before any request: a missing token or project, a
    secret in a spec, a bad option. ``.field`` names the culprit when there is one."""


class ProtocolError(InferenceKeyError):
    """The server answered something the SDK cannot use: a stream cut short before
    ``[DONE]``, an in-band error frame, an undecodable body, an oversized event."""


__all__ = [
    "AuthError",
    "ConfigurationError",
    "ConflictError",
    "ConnectionError",
    "DriftError",
    "InferenceKeyError",
    "NotFoundError",
    "PermissionDenied",
    "ProtocolError",
    "RateLimitError",
    "ServerError",
    "TimeoutError",
    "ValidationError",
]
