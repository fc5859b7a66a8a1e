# Type stubs for the compiled module (crates/inferencekey-py).
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator
from typing import Any, final

from inferencekey.errors import InferenceKeyError

__version__: str

def canonical_slug(raw: str, /) -> str: ...
def redact(token: str, /) -> str: ...
def scrub(text: str, /) -> str: ...
def validate_spec(spec_json: str, /) -> None: ...
def diff(spec_json: str, workload_json: str, /) -> list[tuple[str, Any, Any]]: ...
def create_body(spec_json: str, /) -> str: ...
def error_from_response(
    status: int, body: bytes | str, request_id: str | None = None
) -> InferenceKeyError: ...
def cli_main(args: list[str], self_command: list[str], /) -> int: ...

# --- clients (crates/inferencekey-py/src/clients.rs) ---

@final
class EndpointRef:
    @property
    def project_slug(self) -> str: ...
    @property
    def workload_slug(self) -> str: ...
    @property
    def workload_id(self) -> str | None: ...
    @property
    def action(self) -> str:
        """created | updated | unchanged | drifted | would_create | would_update"""
    @property
    def plan(self) -> list[tuple[str, Any, Any]]: ...
    @property
    def workload(self) -> dict[str, Any] | None: ...

@final
class ReadinessIter(Iterator[dict[str, Any]]):
    def __next__(self) -> dict[str, Any]: ...
    def close(self) -> None: ...

@final
class NativeManagementClient:
    def __init__(
        self,
        project: str | None = None,
        base_url: str | None = None,
        sdk_token: str | None = None,
        timeout: float | None = None,
        connect_timeout: float | None = None,
        read_timeout: float | None = None,
        max_retries: int | None = None,
    ) -> None: ...
    @property
    def project(self) -> str | None: ...
    @property
    def base_url(self) -> str: ...
    def ensure(
        self,
        spec_json: str,
        on_drift: str = "reconcile",
        project: str | None = None,
        timeout: float | None = None,
    ) -> EndpointRef: ...
    def get(
        self, slug: str, project: str | None = None, timeout: float | None = None
    ) -> dict[str, Any]: ...
    def list(
        self, project: str | None = None, timeout: float | None = None
    ) -> list[dict[str, Any]]: ...
    def delete(
        self, slug: str, project: str | None = None, timeout: float | None = None
    ) -> None: ...
    def wait_until_ready(
        self,
        slug: str,
        timeout: float,
        project: str | None = None,
        on_event: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]: ...
    def readiness_events(self, slug: str, project: str | None = None) -> ReadinessIter: ...

@final
class TextResult:
    @property
    def text(self) -> str: ...
    @property
    def model(self) -> str: ...
    @property
    def finish_reason(self) -> str | None: ...
    @property
    def usage(self) -> dict[str, Any] | None: ...
    @property
    def message(self) -> dict[str, Any] | None: ...
    @property
    def raw(self) -> dict[str, Any]: ...

@final
class TextChunk:
    @property
    def text(self) -> str: ...
    @property
    def finish_reason(self) -> str | None: ...
    @property
    def model(self) -> str | None: ...
    @property
    def usage(self) -> dict[str, Any] | None: ...
    @property
    def tool_calls(self) -> list[Any] | None: ...
    @property
    def raw(self) -> dict[str, Any]: ...

@final
class TextStream(Iterator[TextChunk]):
    def __next__(self) -> TextChunk: ...
    def close(self) -> None: ...
    def __enter__(self) -> TextStream: ...
    def __exit__(self, *args: object) -> None: ...

@final
class EmbedResult:
    @property
    def embeddings(self) -> list[list[float]]: ...
    @property
    def model(self) -> str: ...
    @property
    def usage(self) -> dict[str, Any] | None: ...
    def __len__(self) -> int: ...

@final
class RerankResult:
    @property
    def results(self) -> list[dict[str, Any]]: ...
    @property
    def model(self) -> str: ...
    @property
    def usage(self) -> dict[str, Any] | None: ...

@final
class Job:
    @property
    def id(self) -> str: ...
    def status(self, timeout: float | None = None) -> dict[str, Any]: ...
    def wait(self, timeout: float = 60.0) -> dict[str, Any]: ...

@final
class Endpoint:
    @property
    def base_url(self) -> str: ...
    @property
    def api_key(self) -> str: ...
    @property
    def project_slug(self) -> str: ...
    @property
    def workload_slug(self) -> str: ...
    def generate_text(
        self,
        prompt: str | None = None,
        *,
        messages: list[dict[str, Any]] | None = None,
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        top_p: float | None = None,
        stop: str | list[str] | None = None,
        seed: int | None = None,
        response_format: dict[str, Any] | None = None,
        tools: list[dict[str, Any]] | None = None,
        extra: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> TextResult: ...
    def generate_text_stream(
        self,
        prompt: str | None = None,
        *,
        messages: list[dict[str, Any]] | None = None,
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        top_p: float | None = None,
        stop: str | list[str] | None = None,
        seed: int | None = None,
        response_format: dict[str, Any] | None = None,
        tools: list[dict[str, Any]] | None = None,
        extra: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> TextStream: ...
    def embed(
        self,
        input: str | list[str],
        *,
        model: str | None = None,
        extra: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> EmbedResult: ...
    def rerank(
        self,
        query: str,
        documents: list[str] | list[dict[str, Any]],
        *,
        top_n: int | None = None,
        extra: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> RerankResult: ...
    def submit_job(
        self,
        kind: str,
        body: Any = None,
        *,
        data: bytes | None = None,
        content_type: str | None = None,
        context: Any = None,
        timeout: float | None = None,
    ) -> Job: ...
    def post(self, route: str, body: Any, *, timeout: float | None = None) -> Any: ...

@final
class DataClient:
    def __init__(
        self,
        project: str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float | None = None,
        connect_timeout: float | None = None,
        read_timeout: float | None = None,
        max_retries: int | None = None,
    ) -> None: ...
    @classmethod
    def from_env(
        cls,
        project: str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float | None = None,
        connect_timeout: float | None = None,
        read_timeout: float | None = None,
        max_retries: int | None = None,
    ) -> DataClient: ...
    @property
    def project(self) -> str | None: ...
    @property
    def base_url(self) -> str: ...
    def endpoint(
        self, workload: str, api_key: str | None = None, project: str | None = None
    ) -> Endpoint: ...
    def close(self) -> None: ...
    def __enter__(self) -> DataClient: ...
    def __exit__(self, *args: object) -> None: ...

# --- webhooks (crates/inferencekey-py/src/webhooks.rs) ---
def verify_webhook(
    body: bytes,
    signature_header: str,
    secret: bytes,
    tolerance: float = 300.0,
    now: int | None = None,
) -> None: ...
def sign_webhook(body: bytes, secret: bytes, t: int) -> str: ...

# --- asyncio (aio.rs) ---
# The native half of inferencekey.aio; its methods return asyncio futures. Use the coroutine
# wrappers in inferencekey.aio (AsyncManagementClient, AsyncDataClient, AsyncEndpoint).

@final
class AsyncReadinessIter(AsyncIterator[dict[str, Any]]):
    def __anext__(self) -> Awaitable[dict[str, Any]]: ...
    def close(self) -> None: ...

@final
class NativeAsyncManagementClient:
    def __init__(
        self,
        project: str | None = None,
        base_url: str | None = None,
        sdk_token: str | None = None,
        timeout: float | None = None,
        connect_timeout: float | None = None,
        read_timeout: float | None = None,
        max_retries: int | None = None,
    ) -> None: ...
    @property
    def project(self) -> str | None: ...
    @property
    def base_url(self) -> str: ...
    def ensure(
        self,
        spec_json: str,
        on_drift: str = "reconcile",
        project: str | None = None,
        timeout: float | None = None,
    ) -> Awaitable[EndpointRef]: ...
    def get(
        self, slug: str, project: str | None = None, timeout: float | None = None
    ) -> Awaitable[dict[str, Any]]: ...
    def list(
        self, project: str | None = None, timeout: float | None = None
    ) -> Awaitable[list[dict[str, Any]]]: ...
    def delete(
        self, slug: str, project: str | None = None, timeout: float | None = None
    ) -> Awaitable[None]: ...
    def wait_until_ready(
        self,
        slug: str,
        timeout: float,
        project: str | None = None,
        on_event: Callable[[dict[str, Any]], None] | None = None,
    ) -> Awaitable[dict[str, Any]]: ...
    def readiness_events(self, slug: str, project: str | None = None) -> AsyncReadinessIter: ...

@final
class AsyncTextStream(AsyncIterator[TextChunk]):
    """`async for chunk in stream`; also `async with` and `await` (both send the request
    and give back the stream). Closing it, or cancelling the reading task, closes the
    connection."""
    def __anext__(self) -> Awaitable[TextChunk]: ...
    def __await__(self) -> Generator[Any, None, AsyncTextStream]: ...
    def __aenter__(self) -> Awaitable[AsyncTextStream]: ...
    def __aexit__(self, *args: object) -> Awaitable[None]: ...
    def close(self) -> None: ...
    def aclose(self) -> Awaitable[None]: ...

@final
class NativeAsyncJob:
    @property
    def id(self) -> str: ...
    def status(self, timeout: float | None = None) -> Awaitable[dict[str, Any]]: ...
    def wait(self, timeout: float = 60.0) -> Awaitable[dict[str, Any]]: ...

@final
class NativeAsyncEndpoint:
    @property
    def base_url(self) -> str: ...
    @property
    def api_key(self) -> str: ...
    @property
    def project_slug(self) -> str: ...
    @property
    def workload_slug(self) -> str: ...
    def generate_text(
        self,
        prompt: str | None = None,
        *,
        messages: list[dict[str, Any]] | None = None,
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        top_p: float | None = None,
        stop: str | list[str] | None = None,
        seed: int | None = None,
        response_format: dict[str, Any] | None = None,
        tools: list[dict[str, Any]] | None = None,
        extra: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> Awaitable[TextResult]: ...
    def generate_text_stream(
        self,
        prompt: str | None = None,
        *,
        messages: list[dict[str, Any]] | None = None,
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        top_p: float | None = None,
        stop: str | list[str] | None = None,
        seed: int | None = None,
        response_format: dict[str, Any] | None = None,
        tools: list[dict[str, Any]] | None = None,
        extra: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> AsyncTextStream: ...
    def embed(
        self,
        input: str | list[str],
        *,
        model: str | None = None,
        extra: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> Awaitable[EmbedResult]: ...
    def rerank(
        self,
        query: str,
        documents: list[str] | list[dict[str, Any]],
        *,
        top_n: int | None = None,
        extra: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> Awaitable[RerankResult]: ...
    def submit_job(
        self,
        kind: str,
        body: Any = None,
        *,
        data: bytes | None = None,
        content_type: str | None = None,
        context: Any = None,
        timeout: float | None = None,
    ) -> Awaitable[NativeAsyncJob]: ...
    def post(self, route: str, body: Any, *, timeout: float | None = None) -> Awaitable[Any]: ...

@final
class NativeAsyncDataClient:
    def __init__(
        self,
        project: str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float | None = None,
        connect_timeout: float | None = None,
        read_timeout: float | None = None,
        max_retries: int | None = None,
    ) -> None: ...
    @property
    def project(self) -> str | None: ...
    @property
    def base_url(self) -> str: ...
    def endpoint(
        self, workload: str, api_key: str | None = None, project: str | None = None
    ) -> NativeAsyncEndpoint: ...
