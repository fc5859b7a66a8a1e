"""Two Manager processes on one PostgreSQL database (issue 15): slugs, idempotency keys and
tokens hold across them, because the database enforces them.

Runs when INFERENCEKEY_TEST_STORE is a postgres:// URL (scripts/test sets it for the
PostgreSQL run); on SQLite one data dir is one Manager, so there is nothing to share.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from inferencekey import Backend, DataClient, ExecutionPolicy, ManagementClient, WorkloadSpec
from inferencekey.pytest_plugin import start_manager

from .conftest import STORE_ENV, Manager, _postgres_schema_url, alive

pytestmark = pytest.mark.skipif(
    not os.environ.get(STORE_ENV, "").startswith(("postgres://", "postgresql://")),
    reason=f"{STORE_ENV} is not a PostgreSQL URL: only PostgreSQL is shared by two Managers",
)


@contextlib.contextmanager
def two_managers(dirs: list[Path]) -> Iterator[tuple[Manager, Manager]]:
    """Two Managers on one fresh schema, the first started first (so it leads: it is alone
    when it starts), stopped at the end unless a test killed them."""
    url = _postgres_schema_url()
    started: list[Manager] = []
    try:
        for d in dirs:
            m = start_manager(
                d, ["--allow-any-command", "--store", url], log=d / "manager-test.log"
            )
            started.append(Manager.of(m))
        yield started[0], started[1]
    finally:
        for m in started:
            if m.proc.poll() is None:
                m.proc.terminate()
                m.proc.wait(timeout=20)


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Manager, Manager]]:
    with two_managers([tmp_path_factory.mktemp("shared-" + n) for n in ("a", "b")]) as both:
        yield both


def call(
    base: str,
    method: str,
    path: str,
    token: str,
    body: object,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    req = urllib.request.Request(
        base + path,
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        | (headers or {}),
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def workload(slug: str, model: str = "m") -> dict[str, object]:
    return {
        "name": slug,
        "slug": slug,
        "task_type": "text2text",
        "backend": "vllm",
        "model_name": model,
        "config": {"command": f"vllm serve {model}"},
    }


def test_a_project_and_its_token_made_through_one_manager_work_on_the_other(
    pair: tuple[Manager, Manager],
) -> None:
    a, b = pair
    slug = "shared-" + uuid.uuid4().hex[:6]
    token = a.init(slug)["INFERENCEKEY_SDK_TOKEN"]
    status, body = call(b.url, "POST", f"/api/projects/{slug}/workloads", token, workload("bot"))
    assert status == 201, body
    status, listed = call(a.url, "GET", f"/api/projects/{slug}/workloads", token, None)
    assert status == 200 and [w["slug"] for w in listed] == ["bot"], listed


def test_a_slug_is_created_once_when_both_managers_race(pair: tuple[Manager, Manager]) -> None:
    a, b = pair
    slug = "race-" + uuid.uuid4().hex[:6]
    token = a.init(slug)["INFERENCEKEY_SDK_TOKEN"]

    def create(m: Manager, name: str, go: threading.Barrier, statuses: list[int]) -> None:
        go.wait()
        status, _ = call(
            m.url, "POST", f"/api/projects/{slug}/workloads", token, workload(name, f"m-{m.url}")
        )
        statuses.append(status)

    for round in range(5):
        statuses: list[int] = []
        go = threading.Barrier(2)
        threads = [
            threading.Thread(target=create, args=(m, f"bot{round}", go, statuses)) for m in (a, b)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(statuses) == [201, 409], statuses


def test_an_idempotency_key_holds_across_managers(pair: tuple[Manager, Manager]) -> None:
    a, b = pair
    slug = "idem-" + uuid.uuid4().hex[:6]
    token = a.init(slug)["INFERENCEKEY_SDK_TOKEN"]
    key = {"Idempotency-Key": uuid.uuid4().hex}
    path = f"/api/projects/{slug}/workloads"
    status, first = call(a.url, "POST", path, token, workload("bot"), key)
    assert status == 201, first
    status, replay = call(b.url, "POST", path, token, workload("bot"), key)
    assert status == 201 and replay["id"] == first["id"], replay
    status, reused = call(b.url, "POST", path, token, workload("bot2"), key)
    assert status == 422, reused
    assert reused["error"]["code"] == "idempotency_key_reused", reused


def test_a_token_revoked_through_one_manager_is_refused_by_the_other(
    pair: tuple[Manager, Manager],
) -> None:
    a, b = pair
    slug = "revoke-" + uuid.uuid4().hex[:6]
    token = a.init(slug)["INFERENCEKEY_SDK_TOKEN"]
    path = f"/api/projects/{slug}/workloads"
    # B verifies (and caches) the token first.
    assert call(b.url, "GET", path, token, None)[0] == 200
    token_id = token.split("_")[2]
    a.cli("key", "revoke", token_id)
    assert call(a.url, "GET", path, token, None)[0] == 401
    # B re-reads a cached token after at most 2 s (auth::SHARED_CACHE_AGE).
    deadline = time.monotonic() + 30
    while (status := call(b.url, "GET", path, token, None)[0]) == 200:
        assert time.monotonic() < deadline, "B kept accepting a revoked token"
        time.sleep(0.2)
    assert status == 401


def status(m: Manager) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(m.cli("status", "--json").stdout)
    return out


def engines(m: Manager) -> list[int]:
    """The engine processes alive in a Manager's run dir (by their pid files)."""
    found = []
    for f in (m.data_dir / "run").glob("*.pid"):
        try:
            pid = int(f.read_text().split()[0])
        except (ValueError, IndexError, OSError):
            continue
        if alive(pid):
            found.append(pid)
    return found


def spec(slug: str, model: str = "m", **more: Any) -> WorkloadSpec:
    return WorkloadSpec(
        name=slug,
        slug=slug,
        model=model,
        backend=Backend.VLLM,
        command=f"vllm serve {model}",
        **more,
    )


def test_one_manager_leads_and_both_gateways_serve_what_it_runs(
    pair: tuple[Manager, Manager],
) -> None:
    """The leader runs every workload's replicas, whichever Manager it was ensured through;
    the follower's gateway routes to them from what the leader publishes."""
    a, b = pair
    roles = {status(m)["role"] for m in (a, b)}
    assert roles == {"leader", "follower"}, roles
    leader, follower = (a, b) if status(a)["role"] == "leader" else (b, a)
    assert "role      follower" in follower.cli("status").stdout
    slug = "both-" + uuid.uuid4().hex[:6]
    env = a.init(slug)
    token = env["INFERENCEKEY_SDK_TOKEN"]
    mgmt = ManagementClient(slug, base_url=follower.url, sdk_token=token)
    ref = mgmt.ensure(spec("bot"))
    mgmt.wait_until_ready("bot", timeout=60, progress=False)
    assert mgmt.get("bot")["id"] == ref.workload_id
    key = leader.key(slug)
    for m in (leader, follower):
        data = DataClient(project=slug, base_url=m.url, api_key=key)
        text = data.endpoint("bot").generate_text(prompt="hello", max_tokens=4).text
        assert isinstance(text, str) and text
    assert engines(follower) == [], "only the leader runs engines"
    assert len(engines(leader)) >= 1
    # The follower shows the leader's readiness and replica counts.
    mine = next(
        w for p in status(follower)["projects"] if p["slug"] == slug for w in p["workloads"]
    )
    assert mine["status"] == "ready" and mine["replicas"]["ready"] == 1, mine


def test_twenty_ensure_calls_over_two_managers_converge_on_one_workload(
    pair: tuple[Manager, Manager],
) -> None:
    a, b = pair
    slug = "conv-" + uuid.uuid4().hex[:6]
    token = a.init(slug)["INFERENCEKEY_SDK_TOKEN"]
    go = threading.Barrier(20)
    ids: list[str] = []
    errors: list[BaseException] = []

    def ensure(m: Manager) -> None:
        try:
            mgmt = ManagementClient(slug, base_url=m.url, sdk_token=token)
            go.wait()
            ref = mgmt.ensure(spec("bot"))
            assert ref.workload_id is not None
            ids.append(ref.workload_id)
        except BaseException as e:  # reported below, in the test thread
            errors.append(e)

    threads = [threading.Thread(target=ensure, args=((a, b)[i % 2],)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(ids) == 20 and len(set(ids)) == 1, ids
    status_code, listed = call(b.url, "GET", f"/api/projects/{slug}/workloads", token, None)
    assert status_code == 200 and [w["slug"] for w in listed] == ["bot"], listed


@pytest.fixture()
def doomed_pair(tmp_path: Path) -> Iterator[tuple[Manager, Manager]]:
    """A pair of its own, for a test that kills its leader."""
    with two_managers([tmp_path / "m-a", tmp_path / "m-b"]) as both:
        yield both


def test_kill_9_of_the_leader_mid_rollout_hands_its_workloads_to_the_other(
    doomed_pair: tuple[Manager, Manager],
) -> None:
    a, b = doomed_pair
    assert (status(a)["role"], status(b)["role"]) == ("leader", "follower")
    slug = "kill-" + uuid.uuid4().hex[:6]
    token = a.init(slug)["INFERENCEKEY_SDK_TOKEN"]
    mgmt_b = ManagementClient(slug, base_url=b.url, sdk_token=token)
    for name in ("one", "two"):
        mgmt_b.ensure(spec(name))
        mgmt_b.wait_until_ready(name, timeout=60, progress=False)
    doomed = engines(a)
    assert len(doomed) == 2 and engines(b) == [], (doomed, engines(b))
    # A change is rolling out on the leader when it dies.
    mgmt_b.ensure(spec("two", model="m2"))
    a.proc.kill()
    a.proc.wait(timeout=20)
    deadline = time.monotonic() + 30
    while status(b)["role"] != "leader":
        assert time.monotonic() < deadline, "the follower never took over"
        time.sleep(0.2)
    for name in ("one", "two"):
        mgmt_b.wait_until_ready(name, timeout=60, progress=False)
    deadline = time.monotonic() + 30
    while any(alive(p) for p in doomed):
        assert time.monotonic() < deadline, "the dead leader's engines outlived it"
        time.sleep(0.2)
    _, listed = call(b.url, "GET", f"/api/projects/{slug}/workloads", token, None)
    assert sorted((w["slug"], w["model_name"]) for w in listed) == [("one", "m"), ("two", "m2")]
    assert len(engines(b)) == 2, engines(b)
    key = b.key(slug)
    data = DataClient(project=slug, base_url=b.url, api_key=key)
    for name in ("one", "two"):
        text = data.endpoint(name).generate_text(prompt="after the takeover", max_tokens=4).text
        assert isinstance(text, str) and text


def test_a_request_held_at_a_follower_starts_a_workload_scaled_to_zero(
    pair: tuple[Manager, Manager],
) -> None:
    """The follower reports the held request as its gateway's load; the leader's autoscaler
    counts it, starts a replica, publishes it, and the follower forwards the request."""
    a, b = pair
    leader, follower = (a, b) if status(a)["role"] == "leader" else (b, a)
    slug = "cold-" + uuid.uuid4().hex[:6]
    token = a.init(slug)["INFERENCEKEY_SDK_TOKEN"]
    mgmt = ManagementClient(slug, base_url=follower.url, sdk_token=token)
    mgmt.ensure(
        spec(
            "bot",
            execution_policy=ExecutionPolicy.AUTOSCALING,
            execution_policy_config={
                "min_workers": 0,
                "max_workers": 1,
                "max_hourly_cost_usd": 1.0,
                "workers": {"source": "cloud", "cloud_pool": {"gpu_pool": ["local"]}},
                "idle_timeout_s": 1,
            },
        )
    )
    mgmt.wait_until_ready("bot", timeout=60, progress=False)

    def counts() -> dict[str, Any]:
        w = next(
            w for p in status(follower)["projects"] if p["slug"] == slug for w in p["workloads"]
        )
        return dict(w["replicas"], message=w["status_message"])

    deadline = time.monotonic() + 60
    while (c := counts())["ready"] != 0 or "scaled to zero" not in c["message"]:
        assert time.monotonic() < deadline, f"never scaled to zero: {c}"
        time.sleep(0.2)
    assert engines(follower) == []
    data = DataClient(project=slug, base_url=follower.url, api_key=leader.key(slug))
    text = data.endpoint("bot").generate_text(prompt="wake up", max_tokens=4).text
    assert isinstance(text, str) and text
    assert engines(follower) == [], "the follower started no engine of its own"
