"""ensure() against a real Manager: every OnDrift mode in every state, drift on each field,
convergence under concurrency, and the control-plane errors a user meets."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
import uuid
import warnings
from typing import Any

import pytest

from inferencekey import (
    AuthError,
    Backend,
    ConfigurationError,
    DriftError,
    DriftWarning,
    ExecutionPolicy,
    ManagementClient,
    NotFoundError,
    OnDrift,
    PermissionDenied,
    ValidationError,
    WorkloadSpec,
)

from .conftest import Project


def spec(slug: str, **overrides: Any) -> WorkloadSpec:
    fields: dict[str, Any] = dict(
        name="Support bot",
        slug=slug,
        model="meta-llama/Llama-3.1-8B-Instruct",
        backend=Backend.VLLM,
        command="vllm serve meta-llama/Llama-3.1-8B-Instruct --max-model-len 8192",
    )
    fields.update(overrides)
    return WorkloadSpec(**fields)


def http(method: str, url: str, token: str, body: Any = None) -> tuple[int, dict[str, Any]]:
    """A raw request, for what the SDK refuses to send (server-side checks)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Authorization", f"Bearer {token}")
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else {}
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def slug() -> str:
    return "w-" + uuid.uuid4().hex[:8]


@pytest.mark.parametrize("mode", list(OnDrift.__members__.values()), ids=lambda m: m.value)
def test_absent_workload(project: Project, mode: OnDrift) -> None:
    mgmt = ManagementClient.from_env()
    s = slug()
    ref = mgmt.ensure(spec(s), on_drift=mode)
    if mode is OnDrift.DRY_RUN:
        assert ref.action == "would_create"
        assert ref.workload_id is None
        assert {f for f, _, _ in ref.plan} >= {"name", "model_name", "config"}
        with pytest.raises(NotFoundError):
            mgmt.get(s)
    else:
        assert ref.action == "created"
        assert ref.workload_id
        assert mgmt.get(s)["id"] == ref.workload_id
    assert (ref.project_slug, ref.workload_slug) == (project.slug, s)
    assert "Some(" not in repr(ref)
    assert ("workload_id=None" in repr(ref)) == (mode is OnDrift.DRY_RUN)


@pytest.mark.parametrize("mode", list(OnDrift.__members__.values()), ids=lambda m: m.value)
def test_in_sync_workload_is_unchanged(project: Project, mode: OnDrift) -> None:
    mgmt = ManagementClient.from_env()
    s = slug()
    created = mgmt.ensure(spec(s))
    before = mgmt.get(s)
    ref = mgmt.ensure(spec(s), on_drift=mode)
    assert ref.action == "unchanged"
    assert ref.plan == []
    assert ref.workload_id == created.workload_id
    assert mgmt.get(s)["updated_at"] == before["updated_at"]


@pytest.mark.parametrize("mode", list(OnDrift.__members__.values()), ids=lambda m: m.value)
def test_drifted_workload(project: Project, mode: OnDrift) -> None:
    mgmt = ManagementClient.from_env()
    s = slug()
    mgmt.ensure(spec(s))
    changed = spec(s, description="now with a description", name="Support bot v2")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if mode is OnDrift.FAIL:
            with pytest.raises(DriftError) as exc:
                mgmt.ensure(changed, on_drift=mode)
            assert isinstance(exc.value, ValidationError)
            assert {f for f, _, _ in exc.value.plan} == {"name", "description"}
            assert exc.value.field in {"name", "description"}
            ref = None
        else:
            ref = mgmt.ensure(changed, on_drift=mode)
    live = mgmt.get(s)
    if mode is OnDrift.RECONCILE:
        assert ref is not None and ref.action == "updated"
        assert live["name"] == "Support bot v2"
        assert live["description"] == "now with a description"
        assert mgmt.ensure(changed).action == "unchanged"
    else:
        assert live["name"] == "Support bot"
        if ref is not None:
            expected = {"dry_run": "would_update", "warn": "drifted", "ignore": "drifted"}
            assert ref.action == expected[mode.value]
            assert [f for f, _, _ in ref.plan] == ["name", "description"]
    drift_warnings = [w for w in caught if issubclass(w.category, DriftWarning)]
    assert len(drift_warnings) == (1 if mode is OnDrift.WARN else 0)
    if drift_warnings:
        assert drift_warnings[0].filename == __file__  # points at the caller's line


@pytest.mark.parametrize(
    ("field", "change", "plan_field"),
    [
        ("name", {"name": "Renamed"}, "name"),
        ("description", {"description": "d"}, "description"),
        (
            "model",
            {"model": "Qwen/Qwen2.5-7B-Instruct", "command": "vllm serve Qwen/Qwen2.5-7B-Instruct"},
            "model_name",
        ),
        (
            "command",
            {"command": "vllm serve meta-llama/Llama-3.1-8B-Instruct --max-model-len 4096"},
            "config.command",
        ),
        ("vllm_version", {"vllm_version": "0.6.3"}, "config.vllm_version"),
        ("task_type", {"task_type": "embedding"}, "task_type"),
        ("backend", {"backend": Backend.SGLANG, "command": "sglang serve m"}, "backend"),
        (
            "execution_policy",
            {
                "execution_policy": ExecutionPolicy.SCHEDULED,
                "execution_policy_config": {"cron": "0 2 * * *"},
            },
            "execution_policy",
        ),
        (
            "replicas",
            {"execution_policy": ExecutionPolicy.FIXED, "execution_policy_config": {"replicas": 2}},
            "execution_policy_config.replicas",
        ),
    ],
)
def test_drift_on_each_field_is_reconciled(
    project: Project, field: str, change: dict[str, Any], plan_field: str
) -> None:
    mgmt = ManagementClient.from_env()
    s = slug()
    base: dict[str, Any] = {
        "execution_policy": ExecutionPolicy.FIXED,
        "execution_policy_config": {"replicas": 1},
    }
    mgmt.ensure(spec(s, **base))
    ref = mgmt.ensure(spec(s, **{**base, **change}))
    assert ref.action == "updated"
    assert plan_field in [f for f, _, _ in ref.plan]
    assert mgmt.ensure(spec(s, **{**base, **change})).action == "unchanged"


def test_nested_autoscaling_drift_and_server_echo(project: Project) -> None:
    mgmt = ManagementClient.from_env()
    s = slug()
    config = {
        "min_workers": 0,
        "max_workers": 5,
        "max_hourly_cost_usd": 5,
        "workers": {
            "source": "cloud",
            "cloud_pool": {"gpu_pool": ["NVIDIA A100-SXM4-80GB"], "max_instances": 5},
        },
    }
    ref = mgmt.ensure(
        spec(s, execution_policy=ExecutionPolicy.AUTOSCALING, execution_policy_config=config)
    )
    # The server echoes 5.0 for 5 and keeps keys of its own: neither is drift. (Counts such as
    # max_workers are integers on the wire, so only the cost ceiling can come back as 5.0.)
    status, _ = http(
        "PATCH",
        f"{project.manager.url}/api/workloads/{ref.workload_id}",
        project.env["INFERENCEKEY_SDK_TOKEN"],
        {"execution_policy_config": {**config, "max_hourly_cost_usd": 5.0}},
    )
    assert status == 200
    same = spec(s, execution_policy=ExecutionPolicy.AUTOSCALING, execution_policy_config=config)
    assert mgmt.ensure(same).action == "unchanged"
    deeper = json.loads(json.dumps(config))
    deeper["workers"]["cloud_pool"]["max_instances"] = 3
    ref = mgmt.ensure(
        spec(s, execution_policy=ExecutionPolicy.AUTOSCALING, execution_policy_config=deeper)
    )
    assert [f for f, _, _ in ref.plan] == [
        "execution_policy_config.workers.cloud_pool.max_instances"
    ]
    assert mgmt.get(s)["execution_policy_config"]["workers"]["cloud_pool"]["max_instances"] == 3


def test_omitted_policy_config_is_filled_in_without_perpetual_drift(project: Project) -> None:
    mgmt = ManagementClient.from_env()
    s = slug()
    mgmt.ensure(spec(s, execution_policy=ExecutionPolicy.AUTOSCALING))
    live = mgmt.get(s)
    assert live["execution_policy_config"]["max_workers"] >= 1
    assert mgmt.ensure(spec(s, execution_policy=ExecutionPolicy.AUTOSCALING)).action == "unchanged"


def test_twenty_threads_converge_on_one_workload(project: Project) -> None:
    mgmt = ManagementClient.from_env()
    s = slug()
    results: list[str] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(mgmt.ensure(spec(s)).action)
        except BaseException as e:  # collected and asserted below
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert results.count("created") == 1
    assert set(results) <= {"created", "unchanged"}
    assert [w["slug"] for w in mgmt.list()].count(s) == 1


def test_slugs_are_canonicalised_everywhere(project: Project) -> None:
    mgmt = ManagementClient.from_env()
    s = slug()
    ref = mgmt.ensure(spec("  " + s.upper().replace("-", "_") + " "))
    assert ref.workload_slug == s
    assert mgmt.get(s.upper())["slug"] == s
    mgmt.delete(" " + s.upper())
    with pytest.raises(NotFoundError) as exc:
        mgmt.get(s)
    assert exc.value.status == 404


def test_wrong_token_is_refused_locally_both_ways(project: Project) -> None:
    from inferencekey import DataClient

    with pytest.raises(PermissionDenied) as exc:
        ManagementClient(project.slug, sdk_token=project.key)
    assert exc.value.code == "wrong_credential_type"
    assert str(exc.value).startswith("permission denied [wrong_credential_type]")
    assert project.key not in str(exc.value)
    with pytest.raises(PermissionDenied) as exc:
        DataClient.from_env().endpoint("anything", api_key=project.env["INFERENCEKEY_SDK_TOKEN"])
    assert exc.value.code == "wrong_credential_type"


def test_wrong_token_is_refused_by_the_server_both_ways(project: Project) -> None:
    url = project.manager.url
    status, body = http("GET", f"{url}/api/projects/{project.slug}/workloads", project.key)
    assert (status, body["error"]["code"]) == (403, "wrong_credential_type")
    status, body = http(
        "POST",
        f"{url}/endpoint/{project.slug}/x/v1/chat/completions",
        project.env["INFERENCEKEY_SDK_TOKEN"],
        {"messages": [{"role": "user", "content": "hi"}]},
    )
    assert (status, body["error"]["code"]) == (403, "wrong_credential_type")


def test_control_errors_carry_their_attributes(project: Project, manager: Any) -> None:
    with pytest.raises(AuthError) as auth:
        ManagementClient(project.slug, sdk_token="ik_sdk_unknown0000_nosuchsecret").list()
    assert auth.value.status == 401
    assert auth.value.code == "unauthenticated"
    assert auth.value.request_id
    assert "nosuchsecret" not in str(auth.value)

    other = manager.init("other-" + uuid.uuid4().hex[:6])
    with pytest.raises(PermissionDenied) as denied:
        ManagementClient.from_env().list(project=other["INFERENCEKEY_PROJECT"])
    assert (denied.value.status, denied.value.code) == (403, "project_scope_mismatch")

    with pytest.raises(ValidationError) as invalid:
        ManagementClient.from_env().ensure(spec(slug(), worker_id="wrk_notregistered"))
    assert invalid.value.status == 400
    assert invalid.value.field == "worker_id"

    with pytest.raises(ValidationError) as local:
        ManagementClient.from_env().ensure(
            spec(
                slug(),
                execution_policy=ExecutionPolicy.AUTOSCALING,
                execution_policy_config={"min_replicas": 1, "max_replicas": 3},
            )
        )
    assert local.value.status is None
    assert "min_workers" in str(local.value)

    with pytest.raises(ConfigurationError) as secret:
        ManagementClient.from_env().ensure(
            spec(slug(), command=f"vllm serve m --api-key {project.key}")
        )
    assert "secrets must never go in specs" in str(secret.value)
    assert project.key not in str(secret.value)


def test_missing_configuration_names_the_fix(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("INFERENCEKEY_SDK_TOKEN")
    with pytest.raises(ConfigurationError) as exc:
        ManagementClient.from_env()
    assert "INFERENCEKEY_SDK_TOKEN" in str(exc.value)
    monkeypatch.setenv("INFERENCEKEY_SDK_TOKEN", "   ")
    with pytest.raises(ConfigurationError):
        ManagementClient.from_env()
    monkeypatch.setenv("INFERENCEKEY_SDK_TOKEN", project.env["INFERENCEKEY_SDK_TOKEN"])
    monkeypatch.delenv("INFERENCEKEY_PROJECT")
    with pytest.raises(ConfigurationError) as exc:
        ManagementClient.from_env().list()
    assert exc.value.field == "project"
    # The spec's project is the last fallback.
    ref = ManagementClient.from_env().ensure(spec(slug(), project=project.slug))
    assert ref.project_slug == project.slug


def test_private_worker_and_readiness(project: Project) -> None:
    mgmt = ManagementClient.from_env()
    s = slug()
    mgmt.ensure(
        spec(
            s,
            worker_id=project.worker_id,
            execution_policy=ExecutionPolicy.FIXED,
            execution_policy_config={"replicas": 1},
        )
    )
    seen: list[dict[str, Any]] = []
    ready = mgmt.wait_until_ready(s, timeout=60, progress=False, on_event=seen.append)
    assert ready["phase"] == "ready"
    assert seen and seen[-1]["phase"] == "ready"
    message = mgmt.get(s)["status_message"]
    assert "reference engine" in message
    assert project.worker_id in message  # says it runs the private worker's workload locally
    events = list(mgmt.readiness_events(s))
    assert events[-1]["phase"] == "ready"


def test_repr_never_shows_a_token(project: Project) -> None:
    mgmt = ManagementClient.from_env()
    assert project.env["INFERENCEKEY_SDK_TOKEN"] not in repr(mgmt)
    from inferencekey import DataClient

    ep = DataClient.from_env().endpoint("x", api_key=project.key)
    assert project.key not in repr(ep)
    assert "ik_live_" in repr(ep)


def test_status_says_how_many_replicas_are_wanted_and_why(project: Project) -> None:
    mgmt = ManagementClient.from_env()
    s = slug()
    mgmt.ensure(
        spec(
            s,
            execution_policy=ExecutionPolicy.FIXED,
            execution_policy_config={"replicas": 2},
        )
    )
    mgmt.wait_until_ready(s, timeout=60, progress=False)
    deadline = time.monotonic() + 60
    while (w := mgmt.get(s))["replicas"]["ready"] < 2:
        assert time.monotonic() < deadline, w
        time.sleep(0.1)
    assert w["replicas"]["wanted"] == 2, w
    assert w["status_message"].startswith("2 replicas serving"), w
