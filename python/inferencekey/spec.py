"""``WorkloadSpec``: one declared workload, the input of ``ensure()``.

The spec is plain data; its rules (required fields, slugs, policy configs, secrets)
live in the Rust core and run through :meth:`WorkloadSpec.validate`, so Python and
every other binding judge a spec the same way.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from inferencekey import _native
from inferencekey.enums import Backend, ExecutionPolicy, TaskType
from inferencekey.errors import ValidationError


def _known(enum: type[Backend] | type[TaskType] | type[ExecutionPolicy], value: Any) -> Any:
    """The enum member for a known wire string; anything else is kept as given, for the
    core to accept (a custom backend) or reject with a message naming the field."""
    if isinstance(value, str) and not isinstance(value, enum):
        try:
            return enum(value)
        except ValueError:
            return value
    return value


class WorkloadSpec:
    """A workload as you declare it. ``slug`` is its identity: ``ensure()`` with the
    same slug converges on one workload. There is no provider or VRAM field: placement
    is the platform's job. Enum fields take the enum or its wire string.

    ``repr`` is safe to log: anything token-shaped is redacted (specs may not hold
    tokens at all — ``validate()`` rejects them — but a repr must not leak one even
    before that).
    """

    name: str
    slug: str
    model: str
    backend: Backend | str | None
    project: str | None
    description: str | None
    command: str | None
    vllm_version: str | None
    task_type: TaskType | str | None
    config: Mapping[str, Any] | None
    execution_policy: ExecutionPolicy | str | None
    execution_policy_config: Mapping[str, Any] | None
    worker_id: str | None
    gpu_resource_id: str | None

    # A plain class, not a dataclass: `dataclasses` imports `inspect`, which alone would
    # cost a fifth of `import inferencekey`. These are the fields, in declaration order.
    _FIELDS = (
        "name",
        "slug",
        "model",
        "backend",
        "project",
        "description",
        "command",
        "vllm_version",
        "task_type",
        "config",
        "execution_policy",
        "execution_policy_config",
        "worker_id",
        "gpu_resource_id",
    )

    def __init__(
        self,
        *,
        name: str,
        slug: str,
        model: str,
        backend: Backend | str | None = None,
        project: str | None = None,
        description: str | None = None,
        command: str | None = None,
        vllm_version: str | None = None,
        task_type: TaskType | str | None = None,
        config: Mapping[str, Any] | None = None,
        execution_policy: ExecutionPolicy | str | None = None,
        execution_policy_config: Mapping[str, Any] | None = None,
        worker_id: str | None = None,
        gpu_resource_id: str | None = None,
    ) -> None:
        self.name = name
        self.slug = slug
        self.model = model
        self.backend = _known(Backend, backend)
        self.project = project
        self.description = description
        self.command = command
        self.vllm_version = vllm_version
        self.task_type = _known(TaskType, task_type)
        self.config = config
        self.execution_policy = _known(ExecutionPolicy, execution_policy)
        self.execution_policy_config = execution_policy_config
        self.worker_id = worker_id
        self.gpu_resource_id = gpu_resource_id

    def to_dict(self) -> dict[str, Any]:
        """The declared fields (``None`` ones omitted), with enums as wire strings."""
        out: dict[str, Any] = {}
        for name in self._FIELDS:
            value = getattr(self, name)
            if isinstance(value, str):
                out[name] = str(value)
            elif isinstance(value, Mapping):
                out[name] = dict(value)
            elif value is not None:
                out[name] = value
        return out

    def replace(self, **changes: Any) -> WorkloadSpec:
        """A copy with some fields changed (``dataclasses.replace`` for this class)."""
        unknown = set(changes) - set(self._FIELDS)
        if unknown:
            raise TypeError(f"WorkloadSpec has no field(s) {', '.join(sorted(unknown))}")
        values = {f: getattr(self, f) for f in self._FIELDS}
        values.update(changes)
        return WorkloadSpec(**values)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(getattr(self, f) == getattr(other, f) for f in self._FIELDS)

    # Mutable and compared by value: like a dataclass, not hashable.
    __hash__ = None  # type: ignore[assignment]

    def to_json(self) -> str:
        """The spec as the native layer reads it. A value JSON cannot carry (a set, a
        NaN, an object) raises :class:`ValidationError` naming its field."""
        fields = self.to_dict()
        try:
            return json.dumps(fields, allow_nan=False, separators=(",", ":"))
        except (TypeError, ValueError):
            for key, value in fields.items():
                try:
                    json.dumps(value, allow_nan=False)
                except (TypeError, ValueError) as e:
                    problem = (
                        f"must hold only JSON values (str, int, float, bool, None, list, dict): {e}"
                    )
                    raise ValidationError(
                        f"validation error: {key}: {problem}",
                        code="validation_failed",
                        field=key,
                        problems=[(key, problem)],
                    ) from None
            raise

    def validate(self) -> None:
        """Checks the spec locally, as ``ensure()`` does before any request.

        Raises:
            ConfigurationError: a string anywhere in the spec holds an ``ik_`` token
                (``.field`` names where).
            ValidationError: a field is missing or invalid; ``.field`` is the first,
                ``.problems`` lists them all.
        """
        _native.validate_spec(self.to_json())

    def __repr__(self) -> str:
        parts = ", ".join(f"{k}={getattr(self, k)!r}" for k in self.to_dict())
        return _native.scrub(f"{type(self).__name__}({parts})")


__all__ = ["WorkloadSpec"]
