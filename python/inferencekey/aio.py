"""The asyncio API: the sync clients' methods as coroutines, on the same Rust core.

Calls run natively on the SDK's shared Tokio runtime (no thread pool); each method is a
coroutine that hands asyncio a future for the Rust call, so it works with ``await``,
``asyncio.gather``, ``asyncio.create_task`` and task groups, under the default loop or
uvloop. Cancelling the task cancels the Rust call and closes its connection. Results are
the sync API's classes (``TextResult``, ``EmbedResult``, ``EndpointRef``, …).

    async with AsyncDataClient.from_env() as data:
        ep = data.endpoint("support-bot")
        out = await ep.generate_text(prompt="Hola", max_tokens=300)
        async for chunk in ep.generate_text_stream(prompt="Hola"):
            print(chunk.text, end="")
"""

from __future__ import annotations

import builtins
import os
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from inferencekey._native import (
    AsyncTextStream,
    EmbedResult,
    EndpointRef,
    ForecastResult,
    NativeAsyncDataClient,
    NativeAsyncEndpoint,
    NativeAsyncJob,
    NativeAsyncManagementClient,
    RerankResult,
    TextResult,
    WebhookDestination,
    Workload,
)
from inferencekey.clients import (
    ReadinessEvent,
    _drift_mode,
    _log,
    _Management,
    _report,
    _spec_json,
    _watcher,
)
from inferencekey.enums import OnDrift
from inferencekey.spec import WorkloadSpec

if TYPE_CHECKING:
    from typing_extensions import Self, Unpack

    from inferencekey.options import (
        CallOptions,
        DataOptions,
        EmbedOptions,
        ForecastOptions,
        JobOptions,
        RerankOptions,
        TextOptions,
    )

__all__ = [
    "AsyncDataClient",
    "AsyncEndpoint",
    "AsyncJob",
    "AsyncManagementClient",
    "AsyncTextStream",
]


class AsyncManagementClient(_Management[NativeAsyncManagementClient]):
    """``ManagementClient`` for asyncio: provisions workloads with an ``ik_sdk_`` token.

    Every argument falls back to its environment variable (``INFERENCEKEY_PROJECT``,
    ``INFERENCEKEY_BASE_URL``, ``INFERENCEKEY_SDK_TOKEN``); an ``ik_live_`` key is refused
    here, before any request, with ``PermissionDenied``.
    """

    _NATIVE = NativeAsyncManagementClient

    async def ensure(
        self,
        spec: WorkloadSpec,
        on_drift: OnDrift | str = OnDrift.RECONCILE,
        project: str | None = None,
        **options: Unpack[CallOptions],
    ) -> EndpointRef:
        """Creates the workload if missing, and handles drift per ``on_drift``.

        Idempotent by ``spec.slug``: an unchanged spec costs one request and writes nothing.
        """
        mode = _drift_mode(on_drift)
        return _report(await self._native.ensure(_spec_json(spec), mode, project, **options))

    async def get(
        self,
        slug: str,
        project: str | None = None,
        **options: Unpack[CallOptions],
    ) -> Workload:
        """The workload with this slug (canonicalised); ``NotFoundError`` when absent."""
        return await self._native.get(slug, project, **options)

    async def list(
        self,
        project: str | None = None,
        **options: Unpack[CallOptions],
    ) -> list[Workload]:
        return await self._native.list(project, **options)

    async def delete(
        self,
        slug: str,
        project: str | None = None,
        **options: Unpack[CallOptions],
    ) -> None:
        await self._native.delete(slug, project, **options)
        _log().info("deleted workload %s", slug)

    async def set_webhook(
        self,
        slug: str,
        url: str,
        rotate_secret: bool = False,
        project: str | None = None,
        **options: Unpack[CallOptions],
    ) -> WebhookDestination:
        """``ManagementClient.set_webhook``: the secret is set only on the answer that made it."""
        return await self._native.set_webhook(slug, url, rotate_secret, project, **options)

    async def get_webhook(
        self, slug: str, project: str | None = None, **options: Unpack[CallOptions]
    ) -> WebhookDestination:
        return await self._native.get_webhook(slug, project, **options)

    async def delete_webhook(
        self, slug: str, project: str | None = None, **options: Unpack[CallOptions]
    ) -> None:
        await self._native.delete_webhook(slug, project, **options)

    async def test_webhook(
        self, slug: str, project: str | None = None, **options: Unpack[CallOptions]
    ) -> dict[str, Any]:
        return await self._native.test_webhook(slug, project, **options)

    async def publish_backend(
        self,
        path: str | os.PathLike[str],
        tenant: str | None = None,
        **options: Unpack[CallOptions],
    ) -> dict[str, Any]:
        """``ManagementClient.publish_backend``, awaited (the file is read before the call)."""
        from inferencekey.backend import read_package

        archive, manifest_json = read_package(path)
        return await self._native.publish_backend(archive, manifest_json, tenant, **options)

    async def list_backends(
        self, tenant: str | None = None, **options: Unpack[CallOptions]
    ) -> builtins.list[dict[str, Any]]:
        return await self._native.list_backends(tenant, **options)

    def readiness_events(
        self, slug: str, project: str | None = None
    ) -> AsyncIterator[ReadinessEvent]:
        """``async for`` the workload's readiness events; ends after ``ready`` or ``error``."""
        return self._native.readiness_events(slug, project)

    async def wait_until_ready(
        self,
        slug: str,
        timeout: float = 600.0,
        project: str | None = None,
        *,
        progress: bool | None = None,
        on_event: Callable[[ReadinessEvent], None] | None = None,
    ) -> ReadinessEvent:
        """Waits until the workload is ready, at most ``timeout`` seconds (``TimeoutError``).

        Shows a progress line on stderr when it is a terminal (``progress=False`` silences
        it); ``on_event`` runs on the event loop for each readiness event. A workload that
        fails to start raises ``ServerError`` with its last message.
        """
        seen, line = _watcher(slug, progress, on_event)
        try:
            return await self._native.wait_until_ready(slug, timeout, project, seen)
        finally:
            line.done()

    async def close(self) -> None:
        """Connections are released with the client; kept for ``async with`` symmetry."""

    async def __aenter__(self) -> AsyncManagementClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class AsyncDataClient:
    """``DataClient`` for asyncio: builds endpoints that call workloads with ``ik_live_`` keys.

    Every argument falls back to its environment variable (``INFERENCEKEY_PROJECT``,
    ``INFERENCEKEY_BASE_URL``, ``INFERENCEKEY_API_KEY``). All endpoints of one client, and
    all concurrent calls on them, share one connection pool.
    """

    def __init__(self, project: str | None = None, **options: Unpack[DataOptions]) -> None:
        self._native = NativeAsyncDataClient(project, **options)

    @classmethod
    def from_env(cls, project: str | None = None, **options: Unpack[DataOptions]) -> Self:
        """The same as the constructor: every argument falls back to its variable."""
        return cls(project, **options)

    @property
    def project(self) -> str | None:
        return self._native.project

    @property
    def base_url(self) -> str:
        return self._native.base_url

    def endpoint(
        self, workload: str, api_key: str | None = None, project: str | None = None
    ) -> AsyncEndpoint:
        """The endpoint of one workload (no request is made). Key: ``api_key`` > the
        client's key > ``INFERENCEKEY_API_KEY``."""
        return AsyncEndpoint(self._native.endpoint(workload, api_key, project))

    async def close(self) -> None:
        """Connections are released with the client; kept for ``async with`` symmetry."""

    async def __aenter__(self) -> AsyncDataClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return repr(self._native)


class AsyncJob:
    """An async job submitted with ``AsyncEndpoint.submit_job``."""

    __slots__ = ("_native",)

    def __init__(self, native: NativeAsyncJob) -> None:
        self._native = native

    @property
    def id(self) -> str:
        return self._native.id

    async def status(self, **options: Unpack[CallOptions]) -> dict[str, Any]:
        """``{"job_id", "status", "result"?, "error"?}``."""
        return await self._native.status(**options)

    async def wait(self, timeout: float = 60.0) -> dict[str, Any]:
        """Polls until the job succeeds or fails; ``TimeoutError`` after ``timeout`` s."""
        return await self._native.wait(timeout)

    def __repr__(self) -> str:
        return repr(self._native)


class AsyncEndpoint:
    """One workload's data plane, for asyncio. Get it from ``AsyncDataClient.endpoint``.

    Each method is a coroutine over the native call (so ``asyncio.create_task`` takes it);
    the keyword arguments are the core's, declared once in ``inferencekey.options``.
    """

    __slots__ = ("_native",)

    def __init__(self, native: NativeAsyncEndpoint) -> None:
        self._native = native

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL (``…/endpoint/{project}/{workload}/v1``)."""
        return self._native.base_url

    @property
    def api_key(self) -> str:
        """The ``ik_live_`` key, for handing to another OpenAI-compatible client."""
        return self._native.api_key

    @property
    def project_slug(self) -> str:
        return self._native.project_slug

    @property
    def workload_slug(self) -> str:
        return self._native.workload_slug

    async def generate_text(
        self, prompt: str | None = None, **options: Unpack[TextOptions]
    ) -> TextResult:
        """A chat completion: ``prompt=`` or ``messages=``, plus any ``TextOptions``."""
        return await self._native.generate_text(prompt, **options)

    def generate_text_stream(
        self, prompt: str | None = None, **options: Unpack[TextOptions]
    ) -> AsyncTextStream:
        """A streamed chat completion: ``async for chunk in ep.generate_text_stream(...)``.

        The request is sent on first use; ``async with`` or ``await`` on the stream sends
        it at once (so a bad key raises there). Leaving ``async with``, ``aclose()``, or
        cancelling the reading task closes the connection.
        """
        return self._native.generate_text_stream(prompt, **options)

    async def embed(self, input: str | list[str], **options: Unpack[EmbedOptions]) -> EmbedResult:
        return await self._native.embed(input, **options)

    async def rerank(
        self, query: str, documents: list[Any], **options: Unpack[RerankOptions]
    ) -> RerankResult:
        return await self._native.rerank(query, documents, **options)

    async def forecast(
        self, id: str, target: list[float], horizon: int, **options: Unpack[ForecastOptions]
    ) -> ForecastResult:
        return await self._native.forecast(id, target, horizon, **options)

    async def submit_job(
        self, kind: str, body: Any = None, **options: Unpack[JobOptions]
    ) -> AsyncJob:
        """Submits an async job: ``body`` (JSON) or ``data`` (bytes) with ``content_type``."""
        return AsyncJob(await self._native.submit_job(kind, body, **options))

    async def post(self, route: str, body: Any, **options: Unpack[CallOptions]) -> Any:
        """Any other OpenAI-compatible route (images, audio, forecast): POSTs ``body`` to
        ``route`` (e.g. ``"/v1/images/generations"``); decoded JSON, or ``bytes``."""
        return await self._native.post(route, body, **options)

    def __repr__(self) -> str:
        return repr(self._native)
