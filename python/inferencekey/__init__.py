"""InferenceKey SDK for Python.

Declare workloads with :class:`WorkloadSpec` and ``ManagementClient.ensure()``; call
them through ``DataClient`` endpoints. The domain rules, the HTTP wire format and the
clients run in the Rust core (``inferencekey._native``).
"""

from inferencekey._native import (
    DataClient,
    EmbedResult,
    Endpoint,
    EndpointRef,
    Job,
    RerankResult,
    TextChunk,
    TextResult,
    TextStream,
    __version__,
)
from inferencekey.aio import (
    AsyncDataClient,
    AsyncEndpoint,
    AsyncJob,
    AsyncManagementClient,
    AsyncTextStream,
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
    "WorkloadSpec",
    "__version__",
]
