"""Wire enumerations (docs/contract.md §3.5).

Each member has two spellings, because the docs use both: the Python style
(``Backend.VLLM``, ``OnDrift.DRY_RUN``) and the one shared with the Node SDK
(``Backend.Vllm``, ``OnDrift.DryRun``). The second is an alias of the first, so
``Backend.Vllm is Backend.VLLM``. Members are ``str`` subclasses equal to their
wire strings (``Backend.VLLM == "vllm"``), so plain strings work wherever an enum
does and the JSON encoding is the wire string.
"""

from __future__ import annotations

import re
from enum import Enum


class _WireEnum(str, Enum):
    """``str`` and ``format`` give the wire string on every Python version (3.11 and
    3.12 changed the defaults for mixed-in enums)."""

    def __str__(self) -> str:
        return str.__str__(self)

    def __format__(self, format_spec: str) -> str:
        return format(str.__str__(self), format_spec)

    def __repr__(self) -> str:
        return f"{type(self).__name__}.{self.name}"


class Backend(_WireEnum):
    """The serving engine. Any other string names a tenant's custom backend."""

    OLLAMA = "ollama"
    VLLM = "vllm"
    VLLM_OMNI = "vllm-omni"
    SGLANG = "sglang"
    LLAMACPP = "llamacpp"
    STABLEDIFFUSIONCPP = "stablediffusioncpp"

    Ollama = "ollama"
    Vllm = "vllm"
    VllmOmni = "vllm-omni"
    Sglang = "sglang"
    Llamacpp = "llamacpp"
    Stablediffusioncpp = "stablediffusioncpp"


class TaskType(_WireEnum):
    """The modality a workload serves; ``text2text`` is the server default."""

    TEXT2TEXT = "text2text"
    EMBEDDING = "embedding"
    TEXT2IMAGE = "text2image"
    TEXT2VIDEO = "text2video"
    TEXT2AUDIO = "text2audio"
    IMAGE2IMAGE = "image2image"
    IMAGE2VIDEO = "image2video"
    AUDIO2TEXT = "audio2text"
    OMNI = "omni"
    RERANKER = "reranker"
    CLASSIFICATION = "classification"
    REWARD = "reward"
    FORECAST = "forecast"

    Text2text = "text2text"
    Embedding = "embedding"
    Text2image = "text2image"
    Text2video = "text2video"
    Text2audio = "text2audio"
    Image2image = "image2image"
    Image2video = "image2video"
    Audio2text = "audio2text"
    Omni = "omni"
    Reranker = "reranker"
    Classification = "classification"
    Reward = "reward"
    Forecast = "forecast"


class ExecutionPolicy(_WireEnum):
    """How a workload is kept running; the server defaults to ``fixed``."""

    FIXED = "fixed"
    SCHEDULED = "scheduled"
    AUTOSCALING = "autoscaling"

    Fixed = "fixed"
    Scheduled = "scheduled"
    Autoscaling = "autoscaling"


class OnDrift(_WireEnum):
    """What ``ensure()`` does when the live workload differs from the spec."""

    RECONCILE = "reconcile"
    FAIL = "fail"
    DRY_RUN = "dry_run"
    WARN = "warn"
    IGNORE = "ignore"

    Reconcile = "reconcile"
    Fail = "fail"
    DryRun = "dry_run"
    Warn = "warn"
    Ignore = "ignore"

    @classmethod
    def _missing_(cls, value: object) -> OnDrift | None:
        # The core parses on_drift leniently ("dry-run", "DryRun", "DRY_RUN" all mean
        # dry_run); mirror it so OnDrift("dry-run") agrees with what the core accepts.
        if not isinstance(value, str):
            return None
        wanted = re.sub(r"[^a-z0-9]", "", value.lower())
        for member in cls:
            if member.value.replace("_", "") == wanted:
                return member
        return None


__all__ = ["Backend", "ExecutionPolicy", "OnDrift", "TaskType"]
