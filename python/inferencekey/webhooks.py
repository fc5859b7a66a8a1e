"""Verify job-result webhooks (docs/contract.md §6).

The platform signs each delivery with ``X-InferenceKey-Signature: t=<unix>,v1=<hex>``
where ``v1 = HMAC-SHA256(secret, "<t>.<raw body>")``. Verify the *raw* request body, before
parsing it, and dedupe on ``job_id``: delivery is at-least-once.

    from inferencekey import webhooks
    webhooks.verify(request.body, request.headers["X-InferenceKey-Signature"], SECRET)
"""

from __future__ import annotations

from inferencekey import _native

SIGNATURE_HEADER = "X-InferenceKey-Signature"


def _bytes(value: bytes | str) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def verify(
    body: bytes | str,
    signature_header: str,
    secret: bytes | str,
    tolerance: float = 300,
    *,
    now: int | None = None,
) -> None:
    """Returns if the signature is authentic and at most ``tolerance`` seconds old.

    Raises ``ValidationError`` with ``code`` ``invalid_signature`` (wrong secret or altered
    body), ``signature_expired`` (a replay or a skewed clock) or ``malformed_signature``;
    ``ConfigurationError`` for an empty secret. Comparison is constant-time.
    """
    _native.verify_webhook(_bytes(body), signature_header, _bytes(secret), float(tolerance), now)


def sign(body: bytes | str, secret: bytes | str, t: int) -> str:
    """The header value the platform would send for ``body`` at unix time ``t``."""
    return _native.sign_webhook(_bytes(body), _bytes(secret), t)
