"""InferenceKey SDK for Python.

Declare workloads with :class:`WorkloadSpec` and ``ManagementClient.ensure()``; call
them through ``DataClient`` endpoints. The domain rules, the HTTP wire format and the
clients run in the Rust core (``inferencekey._native``).
"""

from typing import TYPE_CHECKING, Any

from inferencekey._native import (
    DataClient,
    EmbedResult,
    Endpoint,
    EndpointRef,
    ForecastResult,
    Job,
    RerankResult,
    TextChunk,
    TextResult,
    TextStream,
    WebhookDestination,
    Workload,
    __version__,
)
from inferencekey.clients import DriftWarning, ManagementClient
from inferencekey.enums import Backend, ExecutionPolicy, OnDrift, TaskType
from inferencekey.errors import (
    AuthError,
    ConfigurationError,
    ConflictError,
    ConnectionError,
    DriftError,
    InferenceKeyError,
    NotFoundError,
    PermissionDenied,
    ProtocolError,
    RateLimitError,
    ServerError,
    TimeoutError,
    ValidationError,
)
from inferencekey.spec import WorkloadSpec

# The asyncio API loads on first use: it pulls in asyncio, which plain sync users (and
# `import inferencekey`'s start-up time) should not pay for.
_ASYNC_NAMES = frozenset(
    {"AsyncDataClient", "AsyncEndpoint", "AsyncJob", "AsyncManagementClient", "AsyncTextStream"}
)

if TYPE_CHECKING:
    from inferencekey.aio import (
        AsyncDataClient,
        AsyncEndpoint,
        AsyncJob,
        AsyncManagementClient,
        AsyncTextStream,
    )


def __getattr__(name: str) -> Any:
    if name in _ASYNC_NAMES:
        from inferencekey import aio

        return getattr(aio, name)
    raise AttributeError(f"module 'inferencekey' has no attribute {name!r}")


__all__ = [
    "AsyncDataClient",
    "AsyncEndpoint",
    "AsyncJob",
    "AsyncManagementClient",
    "AsyncTextStream",
    "AuthError",
    "Backend",
    "ConfigurationError",
    "ConflictError",
    "ConnectionError",
    "DataClient",
    "DriftError",
    "DriftWarning",
    "EmbedResult",
    "Endpoint",
    "EndpointRef",
    "ExecutionPolicy",
    "ForecastResult",
    "InferenceKeyError",
    "Job",
    "ManagementClient",
    "NotFoundError",
    "OnDrift",
    "PermissionDenied",
    "ProtocolError",
    "RateLimitError",
    "RerankResult",
    "ServerError",
    "TaskType",
    "TextChunk",
    "TextResult",
    "TextStream",
    "TimeoutError",
    "ValidationError",
    "WebhookDestination",
    "Workload",
    "WorkloadSpec",
    "__version__",
]
