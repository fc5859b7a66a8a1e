"""Both doc spellings of every enum member, and equality with the wire strings."""

from __future__ import annotations

import json

import pytest

from inferencekey import Backend, ExecutionPolicy, OnDrift, TaskType

BACKENDS = [
    ("OLLAMA", "Ollama", "ollama"),
    ("VLLM", "Vllm", "vllm"),
    ("VLLM_OMNI", "VllmOmni", "vllm-omni"),
    ("SGLANG", "Sglang", "sglang"),
    ("LLAMACPP", "Llamacpp", "llamacpp"),
    ("STABLEDIFFUSIONCPP", "Stablediffusioncpp", "stablediffusioncpp"),
]
TASK_TYPES = [
    "text2text",
    "embedding",
    "text2image",
    "text2video",
    "text2audio",
    "image2image",
    "image2video",
    "audio2text",
    "omni",
    "reranker",
    "classification",
    "reward",
    "forecast",
]
POLICIES = [
    ("FIXED", "Fixed", "fixed"),
    ("SCHEDULED", "Scheduled", "scheduled"),
    ("AUTOSCALING", "Autoscaling", "autoscaling"),
]
DRIFT = [
    ("RECONCILE", "Reconcile", "reconcile"),
    ("FAIL", "Fail", "fail"),
    ("DRY_RUN", "DryRun", "dry_run"),
    ("WARN", "Warn", "warn"),
    ("IGNORE", "Ignore", "ignore"),
]


@pytest.mark.parametrize(
    ("enum", "upper", "pascal", "wire"),
    [(Backend, *b) for b in BACKENDS]
    + [(ExecutionPolicy, *p) for p in POLICIES]
    + [(OnDrift, *d) for d in DRIFT]
    + [(TaskType, t.upper(), t.capitalize(), t) for t in TASK_TYPES],
)
def test_both_spellings_are_one_member_equal_to_the_wire_string(
    enum: type[Backend], upper: str, pascal: str, wire: str
) -> None:
    member = getattr(enum, upper)
    assert getattr(enum, pascal) is member
    assert member == wire
    assert wire == member
    assert isinstance(member, str)
    assert str(member) == wire
    assert f"{member}" == wire
    assert f"{member:>20}" == f"{wire:>20}"
    assert json.dumps(member) == json.dumps(wire)
    assert enum(wire) is member
    assert repr(member) == f"{enum.__name__}.{upper}"
    assert hash(member) == hash(wire)


def test_members_are_listed_once() -> None:
    assert [b.value for b in Backend] == [b[2] for b in BACKENDS]
    assert [t.value for t in TaskType] == TASK_TYPES
    assert len(TaskType) == 13
    assert [p.value for p in ExecutionPolicy] == [p[2] for p in POLICIES]
    assert [d.value for d in OnDrift] == [d[2] for d in DRIFT]


def test_seed_doc_usage() -> None:
    assert Backend.VLLM == "vllm"
    assert Backend.VllmOmni == "vllm-omni"
    assert OnDrift.Reconcile == "reconcile"
    assert ExecutionPolicy.Fixed == "fixed"


@pytest.mark.parametrize("spelling", ["dry_run", "dry-run", "DryRun", "DRY_RUN", " Dry Run "])
def test_on_drift_accepts_what_the_core_accepts(spelling: str) -> None:
    assert OnDrift(spelling) is OnDrift.DRY_RUN


def test_unknown_values_are_rejected() -> None:
    with pytest.raises(ValueError):
        OnDrift("sometimes")
    with pytest.raises(ValueError):
        Backend("VLLM")  # wire strings are exact; only on_drift is lenient, as in the core
    with pytest.raises(ValueError):
        TaskType("text-to-text")
