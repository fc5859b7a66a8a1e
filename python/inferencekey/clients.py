"""The control-plane client.

``ManagementClient`` is a thin layer over the native client: it turns a
:class:`~inferencekey.WorkloadSpec` into the wire form, emits the Python warning for
``OnDrift.WARN``, logs what ``ensure()`` did under the ``inferencekey`` logger, and draws
the progress line of ``wait_until_ready``. Every rule (validation, diff, retries) runs in
the Rust core. The data plane (``DataClient``, ``Endpoint``) is native end to end.
"""

from __future__ import annotations

import builtins
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from inferencekey._native import (
    EndpointRef,
    NativeAsyncManagementClient,
    NativeManagementClient,
    WebhookDestination,
    Workload,
)
from inferencekey.enums import OnDrift
from inferencekey.spec import WorkloadSpec

if TYPE_CHECKING:
    import logging

    from typing_extensions import Self, Unpack

    from inferencekey.options import CallOptions, ManagementOptions


def _log() -> logging.Logger:
    """The ``inferencekey`` logger, imported on first use: ``logging`` is not needed to
    import the package, and importing it would double ``import inferencekey``'s time."""
    import logging

    return logging.getLogger("inferencekey")


ReadinessEvent = dict[str, Any]

__all__ = ["DriftWarning", "ManagementClient", "Workload"]


class DriftWarning(UserWarning):
    """Emitted by ``ensure(..., on_drift=OnDrift.WARN)`` when the live workload differs."""


def _drift_mode(on_drift: OnDrift | str) -> str:
    return on_drift.value if isinstance(on_drift, OnDrift) else str(on_drift)


def _spec_json(spec: WorkloadSpec) -> str:
    """The spec's wire form; anything but a ``WorkloadSpec`` is a ``TypeError``."""
    if not isinstance(spec, WorkloadSpec):
        raise TypeError(f"ensure() takes a WorkloadSpec, not {type(spec).__name__}")
    return spec.to_json()


def _report(ref: EndpointRef) -> EndpointRef:
    """What ``ensure()`` did, told the Python way: a ``DriftWarning`` with the core's text
    for drift left alone under ``OnDrift.WARN`` (the core has logged that text once, under
    the ``inferencekey`` logger), an info record otherwise."""
    if ref.warning is not None:
        # 3: past this helper and ensure(), to the caller's line.
        warnings.warn(ref.warning, DriftWarning, stacklevel=3)
    else:
        _log().info(
            "ensure %s/%s: %s (%d changes)",
            ref.project_slug,
            ref.workload_slug,
            ref.action,
            len(ref.plan),
        )
    return ref


class _Progress:
    """One self-overwriting status line on a terminal; silent elsewhere."""

    def __init__(self, slug: str, enabled: bool) -> None:
        self.slug = slug
        self.enabled = enabled
        self.start = time.monotonic()
        self.width = 0

    def __call__(self, event: ReadinessEvent) -> None:
        if not self.enabled:
            return
        elapsed = time.monotonic() - self.start
        line = f"[inferencekey] {self.slug}: {event.get('phase', '?')}"
        message = event.get("message")
        if message:
            line += f" - {message}"
        line += f" ({elapsed:.1f}s)"
        pad = max(0, self.width - len(line))
        self.width = len(line)
        sys.stderr.write("\r" + line + " " * pad)
        sys.stderr.flush()

    def done(self) -> None:
        if self.enabled and self.width:
            sys.stderr.write("\n")
            sys.stderr.flush()


_N = TypeVar("_N", NativeManagementClient, NativeAsyncManagementClient)


class _Management(Generic[_N]):
    """What the blocking and the asyncio management clients share: construction from the
    ``ManagementOptions`` keywords, and the read-only properties."""

    _NATIVE: ClassVar[type[Any]]

    def __init__(self, project: str | None = None, **options: Unpack[ManagementOptions]) -> None:
        self._native: _N = self._NATIVE(project, **options)

    @classmethod
    def from_env(cls, project: str | None = None, **options: Unpack[ManagementOptions]) -> Self:
        """The same as the constructor; named for the docs' ``ManagementClient.from_env``."""
        return cls(project, **options)

    @property
    def project(self) -> str | None:
        return self._native.project

    @property
    def base_url(self) -> str:
        return self._native.base_url

    def __repr__(self) -> str:
        return repr(self._native)


class ManagementClient(_Management[NativeManagementClient]):
    """Provisions workloads in one project with an ``ik_sdk_`` control token.

    Every argument falls back to its environment variable (``INFERENCEKEY_PROJECT``,
    ``INFERENCEKEY_BASE_URL``, ``INFERENCEKEY_SDK_TOKEN``). A data-plane ``ik_live_`` key is
    refused here, before any request, with ``PermissionDenied``.
    """

    _NATIVE = NativeManagementClient

    def ensure(
        self,
        spec: WorkloadSpec,
        on_drift: OnDrift | str = OnDrift.RECONCILE,
        project: str | None = None,
        **options: Unpack[CallOptions],
    ) -> EndpointRef:
        """Creates the workload if missing, and handles drift per ``on_drift``.

        Idempotent by ``spec.slug``: an unchanged spec costs one request and writes nothing.
        """
        ref = self._native.ensure(_spec_json(spec), _drift_mode(on_drift), project, **options)
        return _report(ref)

    def get(
        self,
        slug: str,
        project: str | None = None,
        **options: Unpack[CallOptions],
    ) -> Workload:
        """The workload with this slug (canonicalised); ``NotFoundError`` when absent."""
        return self._native.get(slug, project, **options)

    def list(
        self,
        project: str | None = None,
        **options: Unpack[CallOptions],
    ) -> list[Workload]:
        return self._native.list(project, **options)

    def delete(
        self,
        slug: str,
        project: str | None = None,
        **options: Unpack[CallOptions],
    ) -> None:
        self._native.delete(slug, project, **options)
        _log().info("deleted workload %s", slug)

    def set_webhook(
        self,
        slug: str,
        url: str,
        rotate_secret: bool = False,
        project: str | None = None,
        **options: Unpack[CallOptions],
    ) -> WebhookDestination:
        """Delivers the workload's job results to ``url`` (signed POSTs, docs/contract.md §6).

        The answer that makes the signing secret (the first, or ``rotate_secret=True``) is the
        only one whose ``secret`` is set: keep it then, for ``inferencekey.webhooks.verify``.
        """
        return self._native.set_webhook(slug, url, rotate_secret, project, **options)

    def get_webhook(
        self, slug: str, project: str | None = None, **options: Unpack[CallOptions]
    ) -> WebhookDestination:
        """The workload's webhook (secret redacted); ``NotFoundError`` when none is set."""
        return self._native.get_webhook(slug, project, **options)

    def delete_webhook(
        self, slug: str, project: str | None = None, **options: Unpack[CallOptions]
    ) -> None:
        self._native.delete_webhook(slug, project, **options)

    def test_webhook(
        self, slug: str, project: str | None = None, **options: Unpack[CallOptions]
    ) -> dict[str, Any]:
        """Sends one signed ``ping`` now: ``{"delivered", "status", "error"}``."""
        return self._native.test_webhook(slug, project, **options)

    def publish_backend(
        self,
        path: str | os.PathLike[str],
        tenant: str | None = None,
        **options: Unpack[CallOptions],
    ) -> dict[str, Any]:
        """Publishes a custom backend package made by ``inferencekey backend package``
        (docs/contract.md §7): ``{"id", "slug", "sha256", "size_bytes", "version",
        "task_type", "created_at"}``. ``tenant`` defaults to ``INFERENCEKEY_TENANT``, else the
        local Manager's ``tnt_local``."""
        from inferencekey.backend import read_package

        archive, manifest_json = read_package(path)
        return self._native.publish_backend(archive, manifest_json, tenant, **options)

    def list_backends(
        self, tenant: str | None = None, **options: Unpack[CallOptions]
    ) -> builtins.list[dict[str, Any]]:
        """The tenant's published custom backends, newest first."""
        return self._native.list_backends(tenant, **options)

    def readiness_events(self, slug: str, project: str | None = None) -> Iterator[ReadinessEvent]:
        """The workload's readiness events as they happen; ends after ``ready`` or ``error``."""
        return iter(self._native.readiness_events(slug, project))

    def wait_until_ready(
        self,
        slug: str,
        timeout: float = 600.0,
        project: str | None = None,
        *,
        progress: bool | None = None,
        on_event: Callable[[ReadinessEvent], None] | None = None,
    ) -> ReadinessEvent:
        """Blocks until the workload is ready, at most ``timeout`` seconds (``TimeoutError``).

        Shows a progress line on stderr when it is a terminal (``progress=False`` silences
        it); a workload that fails to start raises ``ServerError`` with its last message.
        Ctrl-C interrupts the wait.
        """
        seen, line = _watcher(slug, progress, on_event)
        try:
            return self._native.wait_until_ready(slug, timeout, project, seen)
        finally:
            line.done()

    def close(self) -> None:
        """Connections are released with the client; kept for symmetry with ``with``."""

    def __enter__(self) -> ManagementClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _watcher(
    slug: str, progress: bool | None, on_event: Callable[[ReadinessEvent], None] | None
) -> tuple[Callable[[ReadinessEvent], None], _Progress]:
    """The readiness callback of ``wait_until_ready``: the progress line, a debug record,
    then the caller's ``on_event``."""
    show = sys.stderr.isatty() if progress is None else progress
    line = _Progress(slug, show)

    def seen(event: ReadinessEvent) -> None:
        line(event)
        _log().debug("readiness %s: %s", slug, event)
        if on_event is not None:
            on_event(event)

    return seen, line
