"""Crash safety: the Manager is killed with SIGKILL while creates, patches, deletes and jobs
are in flight, and restarted on the same data dir and port. The store must be consistent
(no half-written workload, no duplicate, no lost job), engines restarted, and interrupted
ensure()/delete() calls must converge when re-run — most of them converge on their own,
through the SDK's retries across the restart.
"""

from __future__ import annotations

import contextlib
import socket
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from integration.conftest import Manager

from inferencekey import (
    Backend,
    DataClient,
    InferenceKeyError,
    ManagementClient,
    NotFoundError,
    WorkloadSpec,
)

from .conftest import (
    MODEL,
    bootstrap,
    engine_pids,
    keeper_pids,
    kill9,
    start_manager,
    stop_manager,
    tally,
)

OTHER_MODEL = "Qwen/Qwen2.5-0.5B-Instruct"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def version(slug: str, v: int) -> WorkloadSpec:
    """Two versions differ in three fields at once, so a half-applied patch would show."""
    model = MODEL if v == 1 else OTHER_MODEL
    return WorkloadSpec(
        name=slug,
        slug=slug,
        model=model,
        backend=Backend.VLLM,
        command=f"vllm serve {model}",
        description=f"version {v}",
    )


def check_store(data_dir: Path) -> dict[str, int]:
    """Reads the SQLite file directly (read-only): integrity, no duplicate slug per project,
    and every workload row whole."""
    db = sqlite3.connect(f"file:{data_dir / 'manager.db'}?mode=ro", uri=True)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        dupes = db.execute(
            "SELECT project_id, slug, COUNT(*) FROM workloads GROUP BY 1, 2 HAVING COUNT(*) > 1"
        ).fetchall()
        assert dupes == []
        rows = db.execute("SELECT description, model_name, config FROM workloads").fetchall()
        for description, model, config in rows:
            whole = (description, model) in {("version 1", MODEL), ("version 2", OTHER_MODEL)}
            assert whole and model in config, (description, model, config)
        jobs = db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]
        return {"workloads": len(rows), "jobs": jobs}
    finally:
        db.close()


def assert_whole(w: dict[str, Any]) -> None:
    pair = (w["description"], w["model_name"])
    assert pair in {("version 1", MODEL), ("version 2", OTHER_MODEL)}, w
    assert w["config"]["command"] == f"vllm serve {w['model_name']}", w


@pytest.fixture
def crashable(tmp_path: Path) -> Any:
    """A Manager on a fixed port, so clients reach its successor at the same address."""
    box: dict[str, Manager] = {}
    port = free_port()
    box["m"] = start_manager(tmp_path / "data", port=port)

    def restart() -> Manager:
        kill9(box["m"])
        box["m"] = start_manager(tmp_path / "data", port=port)
        return box["m"]

    yield box, restart
    stop_manager(box["m"])
    # Nothing the Managers started outlives them.
    deadline = time.monotonic() + 10
    while engine_pids(tmp_path / "data") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert engine_pids(tmp_path / "data") == []


def test_kill9_during_creates_patches_and_deletes(crashable: Any) -> None:
    box, restart = crashable
    m = box["m"]
    project = bootstrap(m)
    slugs = [f"c{i}-" + uuid.uuid4().hex[:4] for i in range(24)]
    deleted = set(slugs[::3])
    # Per slug: create (v1), patch (v2), and every third one deleted at the end.
    done: dict[str, str] = {}
    errors: list[BaseException] = []
    ops = 0
    lock = threading.Lock()

    def client() -> ManagementClient:
        return ManagementClient(
            project.slug,
            base_url=m.url,
            sdk_token=project.sdk_token,
            max_retries=8,
            read_timeout=5.0,
        )

    def churn(mine: list[str]) -> None:
        nonlocal ops
        c = client()
        for slug in mine:
            steps = [("ensure", 1), ("ensure", 2)] + ([("delete", 0)] if slug in deleted else [])
            for op, v in steps:
                try:
                    if op == "ensure":
                        c.ensure(version(slug, v))
                    else:
                        c.delete(slug)
                    with lock:
                        ops += 1
                        done[slug] = f"{op}{v}"
                except InferenceKeyError as e:  # typed; re-run below
                    with lock:
                        errors.append(e)

    threads = [threading.Thread(target=churn, args=(slugs[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    kills = 0
    for target in (8, 30):
        while ops < target and any(t.is_alive() for t in threads):
            time.sleep(0.01)
        restart()
        kills += 1
    for t in threads:
        t.join(240)
        assert not t.is_alive(), "an ensure() hung across a Manager crash"
    m = box["m"]
    # Nothing half-written, before any re-run.
    stats = check_store(m.data_dir)
    c = client()
    for w in c.list():
        assert_whole(w)
    # Re-running the intended final step converges.
    for slug in slugs:
        if slug in deleted:
            # Already gone is converged too: delete() of an absent workload is NotFoundError.
            with contextlib.suppress(NotFoundError):
                c.delete(slug)
            with pytest.raises(NotFoundError):
                c.get(slug)
        else:
            ref = c.ensure(version(slug, 2))
            assert ref.action in {"unchanged", "updated", "created"}
    final = {w["slug"]: w for w in c.list()}
    assert sorted(final) == sorted(s for s in slugs if s not in deleted)
    for w in final.values():
        assert (w["description"], w["model_name"]) == ("version 2", OTHER_MODEL)
    check_store(m.data_dir)
    # Engines come back: every surviving workload serves again.
    data = DataClient(project.slug, base_url=m.url, api_key=project.key)
    for slug in list(final)[:3]:
        assert data.endpoint(slug).generate_text(prompt="after the crash", max_tokens=2).text
    tally(
        "crash: kill -9 during creates/patches/deletes",
        kills=kills,
        operations_completed=ops,
        typed_errors_then_rerun=len(errors),
        workloads_checked=stats["workloads"],
        half_written=0,
        duplicates=0,
    )


def test_kill9_during_job_execution(crashable: Any) -> None:
    box, restart = crashable
    m = box["m"]
    project = bootstrap(m)
    slug = "jobs-" + uuid.uuid4().hex[:4]
    ManagementClient(project.slug, base_url=m.url, sdk_token=project.sdk_token).ensure(
        version(slug, 1)
    )
    ep = DataClient(project.slug, base_url=m.url, api_key=project.key).endpoint(slug)
    ep.generate_text(prompt="warm", max_tokens=1)
    n = 12
    ids = [
        ep.submit_job(
            "chat",
            {"messages": [{"role": "user", "content": f"job-{i} [[ik:slow:1500]]"}]},
            context={"i": i},
        ).id
        for i in range(n)
    ]
    base = f"{m.url}/endpoint/{project.slug}/{slug}/jobs/"
    auth = {"Authorization": f"Bearer {project.key}"}

    def statuses() -> dict[str, str]:
        return {j: httpx.get(base + j, headers=auth).json()["status"] for j in ids}

    # Kill while some run and the rest wait.
    deadline = time.monotonic() + 30
    while "running" not in statuses().values() and time.monotonic() < deadline:
        time.sleep(0.05)
    before = statuses()
    assert "running" in before.values()
    restart()
    pids_after_restart = keeper_pids(box["m"].data_dir)
    m = box["m"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        now = statuses()
        if all(s in {"succeeded", "failed"} for s in now.values()):
            break
        time.sleep(0.2)
    results = {j: httpx.get(base + j, headers=auth).json() for j in ids}
    for i, j in enumerate(ids):
        r = results[j]
        assert r["status"] == "succeeded", r
        assert f"job-{i}" in r["result"]["choices"][0]["message"]["content"]
        assert r["context"] == {"i": i}
    assert check_store(m.data_dir)["jobs"] == n
    # The crashed Manager's engines died with it; the new one started its own (one tree).
    assert len(pids_after_restart) <= 1
    tally(
        "crash: kill -9 during job execution",
        jobs=n,
        running_at_kill=sum(s == "running" for s in before.values()),
        queued_at_kill=sum(s == "queued" for s in before.values()),
        lost=0,
        duplicated=0,
    )


def test_stored_command_cannot_escape_the_allowlist_after_restart(tmp_path: Path) -> None:
    """A workload created while any command was allowed is not run by a Manager restarted
    without --allow-any-command: it goes to `error` and no process starts."""
    data = tmp_path / "data"
    m = start_manager(data)
    project = bootstrap(m)
    marker = tmp_path / "ran"
    evil = f"python3 -c \"open('{marker}', 'w').write('x')\""
    mgmt = ManagementClient(project.slug, base_url=m.url, sdk_token=project.sdk_token)
    spec = WorkloadSpec(
        name="anything", slug="anything", model=MODEL, backend=Backend.VLLM, command=evil
    )
    mgmt.ensure(spec)
    deadline = time.monotonic() + 10
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), "with --allow-any-command the command runs"
    kill9(m)
    marker.unlink()
    m = start_manager(data, flags=("--dev",))
    try:
        mgmt = ManagementClient(project.slug, base_url=m.url, sdk_token=project.sdk_token)
        deadline = time.monotonic() + 20
        while mgmt.get("anything")["status"] != "error" and time.monotonic() < deadline:
            time.sleep(0.1)
        w = mgmt.get("anything")
        assert w["status"] == "error", w
        assert "--allow-any-command" in w["status_message"]
        time.sleep(0.5)
        assert not marker.exists()
    finally:
        stop_manager(m)
