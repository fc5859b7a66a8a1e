"""The keyword arguments of the clients and their calls, declared once.

Each ``TypedDict`` mirrors one serde type of the Rust core (``TextRequest``, ``DataSettings``,
…); the native methods take ``**kwargs`` and the core decodes them, refusing an unknown
keyword or a bad value with a ``ValidationError`` / ``ConfigurationError`` that names it.
``tests/python/test_options.py`` checks every list here against the core's, so a parameter
added to the core and not here (or the other way round) fails the suite.

Use them with ``Unpack``: ``def f(**kw: Unpack[TextOptions])``.
"""

from __future__ import annotations

from typing import Any, TypedDict


class _ClientOptions(TypedDict, total=False):
    base_url: str | None
    #: Default total deadline of every call, in seconds (retries included).
    timeout: float | None
    connect_timeout: float | None
    #: Idle timeout: the longest wait for the next bytes or stream event, in seconds.
    read_timeout: float | None
    #: At most 100.
    max_retries: int | None
    #: The binding's name in ``User-Agent`` (default ``python``).
    language: str | None


class ManagementOptions(_ClientOptions, total=False):
    """``ManagementClient(project, **options)``; every value falls back to its variable."""

    sdk_token: str | None


class DataOptions(_ClientOptions, total=False):
    """``DataClient(project, **options)``; ``api_key`` is the endpoints' default key."""

    api_key: str | None


class TextOptions(TypedDict, total=False):
    """``generate_text(prompt, **options)`` and ``generate_text_stream``: the OpenAI chat
    parameters, ``extra`` body keys passed through verbatim, and this call's ``timeout`` and
    ``max_retries``."""

    messages: list[dict[str, Any]] | None
    model: str | None
    temperature: float | None
    max_tokens: int | None
    top_p: float | None
    stop: str | list[str] | None
    seed: int | None
    response_format: dict[str, Any] | None
    tools: list[dict[str, Any]] | None
    frequency_penalty: float | None
    presence_penalty: float | None
    logprobs: bool | None
    n: int | None
    user: str | None
    extra: dict[str, Any] | None
    timeout: float | None
    #: This call's retry count (at most 100); the client's ``max_retries`` otherwise.
    max_retries: int | None


class EmbedOptions(TypedDict, total=False):
    """``embed(input, **options)``."""

    model: str | None
    extra: dict[str, Any] | None
    timeout: float | None
    #: This call's retry count (at most 100); the client's ``max_retries`` otherwise.
    max_retries: int | None


class RerankOptions(TypedDict, total=False):
    """``rerank(query, documents, **options)``."""

    top_n: int | None
    extra: dict[str, Any] | None
    timeout: float | None
    #: This call's retry count (at most 100); the client's ``max_retries`` otherwise.
    max_retries: int | None


class CallOptions(TypedDict, total=False):
    """The per-call options of the control-plane calls (``ensure``, ``get``, ``list``,
    ``delete``): this call's total ``timeout`` in seconds and its ``max_retries`` (at most
    100), instead of the client's."""

    timeout: float | None
    max_retries: int | None


class JobOptions(TypedDict, total=False):
    """``submit_job(kind, body=None, **options)``: the core's ``JobRequest`` fields besides
    ``kind`` and ``body``. ``data`` is the binary payload (``bytes``; it crosses the wire as
    ``body_b64``), sent with its ``content_type`` instead of a JSON ``body``."""

    data: bytes | bytearray | None
    content_type: str | None
    #: Echoed back with the job's result (and its webhook delivery).
    context: Any
    #: Deliver this job's result here (a signed POST) instead of the workload's webhook URL.
    webhook_url: str | None
    timeout: float | None
    #: This call's retry count (at most 100); the client's ``max_retries`` otherwise.
    max_retries: int | None


class ForecastOptions(TypedDict, total=False):
    """``forecast(id, target, horizon, **options)``: the documented forecast request's other
    fields (docs/contract.md §5), ``extra`` body keys passed through verbatim, and this
    call's ``timeout`` and ``max_retries``."""

    #: One timestamp per ``target`` value.
    timestamps: list[str] | None
    freq: str | None
    #: Levels strictly between 0 and 1 (the server's default: 0.1, 0.5, 0.9).
    quantile_levels: list[float] | None
    #: Covariate name → one value per ``target`` step.
    past_covariates: dict[str, list[float]] | None
    #: Covariate name → one value per step of ``horizon``.
    future_covariates: dict[str, list[float]] | None
    num_samples: int | None
    return_samples: bool | None
    model: str | None
    extra: dict[str, Any] | None
    timeout: float | None
    #: This call's retry count (at most 100); the client's ``max_retries`` otherwise.
    max_retries: int | None


__all__ = [
    "CallOptions",
    "DataOptions",
    "EmbedOptions",
    "ForecastOptions",
    "ManagementOptions",
    "RerankOptions",
    "TextOptions",
]
