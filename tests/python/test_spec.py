"""WorkloadSpec: construction as the docs write it, validation through the core, the JSON
the native layer reads, and a repr that never shows a token."""

from __future__ import annotations

import json
import math
import types
from typing import Any

import pytest

from inferencekey import (
    Backend,
    ConfigurationError,
    ExecutionPolicy,
    InferenceKeyError,
    TaskType,
    ValidationError,
    WorkloadSpec,
)
from seed_specs import WORKER, seed_specs

SEEDS = seed_specs()
TOKEN = "ik_live_proj1234abcd_s3cr3tVALUEs3cr3tVALUE"
SDK_TOKEN = "ik_sdk_acme5678wxyz_an0therS3CRETan0therS3CRET"


def minimal(**overrides: Any) -> WorkloadSpec:
    fields: dict[str, Any] = {
        "name": "Support bot",
        "slug": "support-bot",
        "model": "m",
        "backend": "vllm",
    }
    fields.update(overrides)
    return WorkloadSpec(**fields)


@pytest.mark.parametrize("key", list(SEEDS))
def test_every_seed_spec_constructs_and_validates(key: str) -> None:
    spec = SEEDS[key]
    spec.validate()
    body = json.loads(spec.to_json())
    assert body["name"] == spec.name
    assert body["slug"] == spec.slug


def test_seed_fields_are_kept_as_given() -> None:
    spec = SEEDS["text2image"]
    assert spec.backend is Backend.VLLM_OMNI
    assert spec.task_type is TaskType.TEXT2IMAGE  # given as the string "text2image"
    assert spec.execution_policy is ExecutionPolicy.AUTOSCALING
    assert spec.vllm_version == "0.6.3"
    assert spec.worker_id is None
    assert SEEDS["text2audio"].worker_id == WORKER
    assert SEEDS["autoscaling with server defaults"].execution_policy == "autoscaling"


def test_keyword_only_with_required_fields() -> None:
    with pytest.raises(TypeError):
        WorkloadSpec("Support bot", "support-bot", "m")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        WorkloadSpec(name="Support bot", slug="support-bot")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        WorkloadSpec(name="a", slug="a", model="m", provider="aws")  # type: ignore[call-arg]


def test_every_field_round_trips_to_json() -> None:
    spec = WorkloadSpec(
        name="Bot",
        slug="bot",
        model="m",
        backend="vllm",
        project="acme",
        description="d",
        command="vllm serve m",
        vllm_version="0.6.3",
        task_type=TaskType.Embedding,
        config={"max_model_len": 8192},
        execution_policy="fixed",
        execution_policy_config={"replicas": 2},
        worker_id=WORKER,
        gpu_resource_id="gpu_1",
    )
    spec.validate()
    assert json.loads(spec.to_json()) == {
        "name": "Bot",
        "slug": "bot",
        "model": "m",
        "backend": "vllm",
        "project": "acme",
        "description": "d",
        "command": "vllm serve m",
        "vllm_version": "0.6.3",
        "task_type": "embedding",
        "config": {"max_model_len": 8192},
        "execution_policy": "fixed",
        "execution_policy_config": {"replicas": 2},
        "worker_id": WORKER,
        "gpu_resource_id": "gpu_1",
    }
    assert list(WorkloadSpec._FIELDS) == list(json.loads(spec.to_json()))


def test_plain_strings_become_enums_and_unknown_strings_are_kept() -> None:
    spec = minimal(backend="vllm-omni", task_type="omni", execution_policy="scheduled")
    assert spec.backend is Backend.VLLM_OMNI
    assert spec.task_type is TaskType.OMNI
    assert spec.execution_policy is ExecutionPolicy.SCHEDULED
    custom = minimal(backend="my-engine", command="my-engine --serve")
    assert custom.backend == "my-engine"
    assert not isinstance(custom.backend, Backend)
    custom.validate()  # a tenant's custom backend slug is valid


def test_any_mapping_is_accepted_for_configs() -> None:
    frozen = types.MappingProxyType({"replicas": 2})
    spec = minimal(execution_policy="fixed", execution_policy_config=frozen)
    spec.validate()
    assert json.loads(spec.to_json())["execution_policy_config"] == {"replicas": 2}


def test_free_text_is_sent_as_written() -> None:
    """Nothing is trimmed on the way to the server, so what ensure() compares is what it
    sent (the public SDK compares exactly too)."""
    spec = minimal(name="  Support bot ", description=" d ")
    spec.validate()
    body = json.loads(spec.to_json())
    assert (body["name"], body["description"]) == ("  Support bot ", " d ")


def test_equality() -> None:
    assert minimal(backend="vllm") == minimal(backend=Backend.VLLM)
    assert minimal() != minimal(slug="other")
    assert minimal().replace(slug="other") == minimal(slug="other")
    with pytest.raises(TypeError):
        minimal().replace(provider="aws")
    with pytest.raises(TypeError):
        hash(minimal())


@pytest.mark.parametrize(
    ("overrides", "field", "cls"),
    [
        ({"name": ""}, "name", ValidationError),
        ({"name": "   "}, "name", ValidationError),
        ({"slug": "!!!"}, "slug", ValidationError),
        ({"slug": "x" * 64}, "slug", ValidationError),
        ({"model": ""}, "model", ValidationError),
        ({"model": " m"}, "model", ValidationError),
        ({"backend": None}, "backend", ValidationError),
        ({"backend": " vllm"}, "backend", ValidationError),
        ({"worker_id": "wrk_1 "}, "worker_id", ValidationError),
        ({"backend": "VLLM"}, "backend", ValidationError),
        ({"backend": "My Engine"}, "backend", ValidationError),
        ({"task_type": "text-to-text"}, "task_type", ValidationError),
        ({"execution_policy": "sometimes"}, "execution_policy", ValidationError),
        ({"command": "  "}, "command", ValidationError),
        ({"worker_id": ""}, "worker_id", ValidationError),
        ({"backend": "ollama", "vllm_version": "0.6.3"}, "vllm_version", ValidationError),
        ({"command": "a", "config": {"command": "b"}}, "command", ValidationError),
        ({"name": 5}, "name", ValidationError),
        ({"config": ["not", "an", "object"]}, "config", ValidationError),
        ({"config": {"bad": {1, 2}}}, "config", ValidationError),
        (
            {"execution_policy_config": {"ratio": math.nan}},
            "execution_policy_config",
            ValidationError,
        ),
        (
            {"execution_policy": "fixed", "execution_policy_config": {"replicas": 0}},
            "execution_policy_config.replicas",
            ValidationError,
        ),
        (
            {"execution_policy": "scheduled", "execution_policy_config": {}},
            "execution_policy_config",
            ValidationError,
        ),
        ({"description": f"uses {TOKEN}"}, "description", ConfigurationError),
        ({"command": f"vllm serve m --api-key {SDK_TOKEN}"}, "command", ConfigurationError),
        ({"config": {"env": {"KEY": TOKEN}}}, "config.env.KEY", ConfigurationError),
        (
            {"execution_policy_config": {"workers": {"private_worker_ids": [TOKEN]}}},
            "execution_policy_config.workers.private_worker_ids[0]",
            ConfigurationError,
        ),
    ],
)
def test_invalid_specs_raise_the_right_class_naming_the_field(
    overrides: dict[str, Any], field: str, cls: type[InferenceKeyError]
) -> None:
    with pytest.raises(cls) as info:
        minimal(**overrides).validate()
    err = info.value
    assert type(err) is cls
    assert err.field == field
    assert TOKEN not in str(err) and SDK_TOKEN not in str(err)
    prefix = "validation error: " if cls is ValidationError else "configuration error: "
    assert str(err).startswith(prefix)
    if cls is ConfigurationError:
        assert "secrets must never go in specs" in str(err)
    else:
        assert err.code == "validation_failed"
        assert err.problems and err.problems[0][0] == field


def test_min_replicas_is_rejected_naming_the_right_keys() -> None:
    spec = minimal(
        execution_policy=ExecutionPolicy.AUTOSCALING,
        execution_policy_config={"min_replicas": 0, "max_replicas": 5, "max_hourly_cost_usd": 5},
    )
    with pytest.raises(ValidationError) as info:
        spec.validate()
    assert info.value.field is not None
    assert info.value.field.startswith("execution_policy_config.m")
    assert "min_workers" in str(info.value)


def test_every_problem_is_listed() -> None:
    with pytest.raises(ValidationError) as info:
        WorkloadSpec(name="", slug="", model="").validate()
    assert [f for f, _ in info.value.problems] == ["name", "slug", "model", "backend"]
    assert info.value.field == "name"


def test_secrets_are_checked_before_other_problems() -> None:
    with pytest.raises(ConfigurationError) as info:
        minimal(name="", description=TOKEN).validate()
    assert info.value.field == "description"


def test_repr_never_shows_a_token() -> None:
    spec = minimal(
        description=f"key {TOKEN} here",
        command=f"vllm serve m --api-key={SDK_TOKEN}",
        config={"headers": {"Authorization": f"Bearer {TOKEN}"}},
        execution_policy_config={"nested": [TOKEN]},
    )
    text = repr(spec)
    for secret in (TOKEN, SDK_TOKEN, "s3cr3tVALUE", "an0therS3CRET"):
        assert secret not in text
        assert secret not in str(spec)
    assert "ik_live_proj1234…" in text
    assert "ik_sdk_acme5678…" in text
    assert text.startswith("WorkloadSpec(name='Support bot', slug='support-bot', model='m'")


def test_repr_shows_declared_fields_only() -> None:
    assert repr(minimal(backend=Backend.VLLM)) == (
        "WorkloadSpec(name='Support bot', slug='support-bot', model='m', backend=Backend.VLLM)"
    )
