"""Execution policies as a user meets them: real llama.cpp processes scaled by the Manager's
autoscaler under real load, scale to zero and a cold start, a schedule refusing a request,
and the replica-count limits (issue #19, finding 13) through the SDK and over HTTP.

The Manager here runs on the wall clock, so the autoscaling configs use short delays; the
exact timing rules are tested with a controllable clock in
crates/inferencekey-manager/tests/policies.rs. Waits below are deadlines for failure, not
timing assertions.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from inferencekey import (
    Backend,
    DataClient,
    ExecutionPolicy,
    ManagementClient,
    ServerError,
    ValidationError,
    WorkloadSpec,
)

from .conftest import Project

pytest.importorskip("xllamacpp")
models = pytest.importorskip("inferencekey.models")

POOL = {"source": "cloud", "cloud_pool": {"gpu_pool": ["local"]}}


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path: Path = models.tiny_llama_gguf(tmp_path_factory.mktemp("gguf") / "tiny-llama.gguf")
    return path


def llama(slug: str, model: Path, **policy: Any) -> WorkloadSpec:
    return WorkloadSpec(
        name=slug,
        slug=slug,
        model=slug,
        backend=Backend.LLAMACPP,
        command=f"llama-server -m {model} -c 2048 -np 1 -t 1 -tb 1",
        task_type="text2text",
        **policy,
    )


def until(what: str, check: Callable[[], Any], limit: float = 90.0) -> Any:
    deadline = time.monotonic() + limit
    while True:
        got = check()
        if got:
            return got
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def sdk_token(project: Project) -> str:
    return next(v for v in project.env.values() if v.startswith("ik_sdk_"))


def replicas(slug: str) -> dict[str, int]:
    counts: dict[str, int] = ManagementClient.from_env().get(slug)["replicas"]
    return counts


def test_autoscaling_follows_real_load_1_to_3_to_1(project: Project, tiny_model: Path) -> None:
    slug = "auto-" + uuid.uuid4().hex[:6]
    mgmt = ManagementClient.from_env()
    mgmt.ensure(
        llama(
            slug,
            tiny_model,
            execution_policy=ExecutionPolicy.AUTOSCALING,
            execution_policy_config={
                "min_workers": 1,
                "max_workers": 3,
                "max_hourly_cost_usd": 1.0,
                "workers": POOL,
                "target_concurrency": 1,
                "metrics_window_s": 1,
                "scale_up_delay_s": 0,
                "scale_down_delay_s": 1,
            },
        )
    )
    mgmt.wait_until_ready(slug, timeout=120, progress=False)
    assert replicas(slug)["wanted"] == 1

    ep = DataClient.from_env().endpoint(slug, api_key=project.key)
    stop = threading.Event()
    served: list[int] = []
    errors: list[BaseException] = []

    def load() -> None:
        while not stop.is_set():
            try:
                out = ep.generate_text(prompt="load", max_tokens=400, temperature=0.0)
                assert out.usage is not None
                served.append(out.usage["completion_tokens"])
            except BaseException as e:  # reported below, after the threads stop
                errors.append(e)
                return

    threads = [threading.Thread(target=load) for _ in range(6)]
    for t in threads:
        t.start()
    try:
        up = until("3 ready replicas under load", lambda: replicas(slug)["ready"] == 3)
        assert up
        status = mgmt.get(slug)["status_message"]
        assert "autoscaling:" in status and "target 1 per replica" in status, status
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, errors
    assert served and all(n == 400 for n in served)
    until(
        "back to 1 replica once idle",
        lambda: (
            replicas(slug)
            == {
                "wanted": 1,
                "ready": 1,
                "in_flight": 0,
            }
        ),
    )


def test_scale_to_zero_and_a_cold_start(project: Project, tiny_model: Path) -> None:
    slug = "zero-" + uuid.uuid4().hex[:6]
    mgmt = ManagementClient.from_env()
    mgmt.ensure(
        llama(
            slug,
            tiny_model,
            execution_policy=ExecutionPolicy.AUTOSCALING,
            execution_policy_config={
                "min_workers": 0,
                "max_workers": 1,
                "max_hourly_cost_usd": 1.0,
                "workers": POOL,
                "idle_timeout_s": 1,
            },
        )
    )
    mgmt.wait_until_ready(slug, timeout=120, progress=False)
    until("scaled to zero", lambda: replicas(slug)["ready"] == 0)
    w = mgmt.get(slug)
    assert w["status"] == "ready" and "scaled to zero" in w["status_message"], w
    # The request is held while llama.cpp starts, then served.
    out = (
        DataClient.from_env()
        .endpoint(slug, api_key=project.key)
        .generate_text(prompt="wake up", max_tokens=4)
    )
    assert out.usage is not None and out.usage["completion_tokens"] == 4


def test_a_request_outside_the_schedule_names_the_next_start(project: Project) -> None:
    slug = "leap-" + uuid.uuid4().hex[:6]
    mgmt = ManagementClient.from_env()
    # Fires at 00:00 UTC on 29 February only: outside its hour on any day this runs.
    mgmt.ensure(
        WorkloadSpec(
            name=slug,
            slug=slug,
            model="m",
            backend=Backend.VLLM,
            command="vllm serve m",
            execution_policy=ExecutionPolicy.SCHEDULED,
            execution_policy_config={"cron": "0 0 29 2 *", "duration": "1h"},
        )
    )
    # The schedule's own status, not the placement message every new workload starts with
    # (also `scheduling`).
    w = until(
        "the schedule's status",
        lambda: (
            (w := mgmt.get(slug))["status"] == "scheduling"
            and "outside cron" in w["status_message"]
            and w
        ),
    )
    assert 'outside cron "0 0 29 2 *", next start' in w["status_message"], w
    assert w["replicas"]["wanted"] == 0
    r = httpx.post(
        f"{project.manager.url}/endpoint/{project.slug}/{slug}/v1/chat/completions",
        headers={"Authorization": f"Bearer {project.key}"},
        json={"model": "m", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "workload_not_ready"
    assert "next start" in r.json()["error"]["message"] and "-02-29T00:00:00Z" in r.text
    assert int(r.headers["retry-after"]) > 3600
    with pytest.raises(ServerError) as exc:
        DataClient.from_env(max_retries=0).endpoint(slug, api_key=project.key).generate_text(
            prompt="hi"
        )
    assert exc.value.code == "workload_not_ready" and exc.value.retry_after


@pytest.mark.parametrize("bad", [1_000_000, 2.0, 1e2, 0, 65])
def test_replica_counts_are_integers_within_the_limit(project: Project, bad: object) -> None:
    spec = WorkloadSpec(
        name="r",
        slug="r-" + uuid.uuid4().hex[:6],
        model="m",
        backend=Backend.VLLM,
        command="vllm serve m",
        execution_policy=ExecutionPolicy.FIXED,
        execution_policy_config={"replicas": bad},
    )
    # Refused locally by the SDK (the core's rules) ...
    with pytest.raises(ValidationError) as exc:
        ManagementClient.from_env().ensure(spec)
    assert exc.value.field == "execution_policy_config.replicas"
    # ... and by the Manager for a client that skips the SDK.
    r = httpx.post(
        f"{project.manager.url}/api/projects/{project.slug}/workloads",
        headers={"Authorization": f"Bearer {sdk_token(project)}"},
        json={
            "name": "r",
            "slug": spec.slug,
            "model_name": "m",
            "backend": "vllm",
            "config": {"command": "vllm serve m"},
            "execution_policy": "fixed",
            "execution_policy_config": {"replicas": bad},
        },
    )
    assert r.status_code == 400, r.text
    assert r.json()["error"]["field"] == "execution_policy_config.replicas"
