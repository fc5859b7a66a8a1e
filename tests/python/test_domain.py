"""The core's pure functions as the Python package sees them."""

from __future__ import annotations

import json
from typing import Any

import pytest

import inferencekey
from inferencekey import ExecutionPolicy, ValidationError, WorkloadSpec, _native


def test_version() -> None:
    assert inferencekey.__version__ == _native.__version__
    assert inferencekey.__version__.count(".") == 2


@pytest.mark.parametrize(
    ("raw", "slug"),
    [
        ("  Mixed_Case--Slug ", "mixed-case-slug"),
        ("support-bot", "support-bot"),
        ("Support Bot", "support-bot"),
        ("--a--", "a"),
        ("!!!", ""),
        ("", ""),
        ("Café crème", "caf-cr-me"),
    ],
)
def test_canonical_slug(raw: str, slug: str) -> None:
    assert _native.canonical_slug(raw) == slug


def test_redact_and_scrub() -> None:
    token = "ik_live_proj1234abcd_s3cr3tVALUE"
    assert _native.redact(token) == "ik_live_proj1234…"
    assert _native.redact("ik_sdk_ab_cd") == "ik_sdk_ab…"
    assert _native.redact("hunter2") == "ik…"
    scrubbed = _native.scrub(f"Authorization: Bearer {token}.")
    assert scrubbed == "Authorization: Bearer ik_live_proj1234…."
    assert _native.scrub("mentions ik_live_ in prose") == "mentions ik_live_ in prose"


def spec(**overrides: Any) -> WorkloadSpec:
    fields: dict[str, Any] = {
        "name": "Support bot",
        "slug": "Support Bot",
        "model": "m",
        "backend": "vllm",
        "command": "vllm serve m",
        "vllm_version": "0.6.3",
        "execution_policy": ExecutionPolicy.FIXED,
        "execution_policy_config": {"replicas": 2},
    }
    fields.update(overrides)
    return WorkloadSpec(**fields)


def test_create_body() -> None:
    body = json.loads(_native.create_body(spec().to_json()))
    assert body == {
        "name": "Support bot",
        "slug": "support-bot",
        "task_type": "text2text",
        "backend": "vllm",
        "model_name": "m",
        "config": {"command": "vllm serve m", "vllm_version": "0.6.3"},
        "execution_policy": "fixed",
        "execution_policy_config": {"replicas": 2},
    }


def live(**overrides: Any) -> str:
    workload = json.loads(_native.create_body(spec().to_json()))
    workload.update({"id": "wl_1", "project_slug": "acme", "status": "ready"})
    workload.update(overrides)
    return json.dumps(workload)


def test_diff_in_sync_and_server_echoes() -> None:
    assert _native.diff(spec().to_json(), live()) == []
    echoed = live(
        config={"command": "vllm serve m", "vllm_version": "0.6.3", "port": 8000},
        execution_policy_config={"replicas": 2.0},
        description="set in the dashboard",
    )
    assert _native.diff(spec().to_json(), echoed) == []


def test_diff_plan() -> None:
    plan = _native.diff(
        spec(execution_policy_config={"replicas": 3}, task_type="embedding").to_json(),
        live(),
    )
    assert plan == [
        ("task_type", "text2text", "embedding"),
        ("execution_policy_config.replicas", 2, 3),
    ]
    missing = _native.diff(spec(worker_id="wrk_1").to_json(), live())
    assert missing == [("worker_id", None, "wrk_1")]


def test_spec_shape_errors_name_every_field() -> None:
    with pytest.raises(ValidationError) as info:
        _native.validate_spec(
            json.dumps({"name": 1, "slug": "a", "model": "m", "provider": "aws", "config": []})
        )
    assert [f for f, _ in info.value.problems] == ["provider", "name", "config"]
    assert "placement is the platform's job" in str(info.value)
    for bad in ("[]", "not json", '"spec"'):
        with pytest.raises(ValidationError) as err:
            _native.validate_spec(bad)
        assert err.value.field == "spec"
