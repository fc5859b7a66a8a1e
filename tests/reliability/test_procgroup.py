"""Engine process trees never outlive the Manager (issue 19, finding 1).

The engine here forks the way vLLM's EngineCore or Ray do: a worker that calls `setsid`
(leaving the engine's process group and session) and whose parent then exits, so it is an
orphan in its own session. Before the fix it survived a workload delete, a clean stop and a
`kill -9` of the Manager, forever. Each replica now runs under a keeper (a child subreaper
that kills its whole subtree), and a restarted Manager sweeps whatever carries its tag.
"""

from __future__ import annotations

import os
import signal
import sys
import time
import uuid
from pathlib import Path

from inferencekey import Backend, ManagementClient, WorkloadSpec

from .conftest import (
    MODEL,
    Project,
    alive,
    bootstrap,
    engine_pids,
    keeper_pids,
    kill9,
    start_manager,
    stop_manager,
    tally,
)

#: An engine that starts an escaping worker and then idles (it never needs to be healthy).
ESCAPING_ENGINE = """
import os, sys, time
out = sys.argv[1]
mid = os.fork()
if mid == 0:
    os.setsid()                      # a new session: out of the engine's process group
    worker = os.fork()
    if worker:
        tmp = out + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(worker))
        os.rename(tmp, out)
        os._exit(0)                  # the worker is orphaned
    time.sleep(600)
    os._exit(0)
os.waitpid(mid, 0)
time.sleep(600)
"""


def escaping_workload(tmp_path: Path, project: Project) -> tuple[ManagementClient, Path, str]:
    script = tmp_path / "escaping_engine.py"
    script.write_text(ESCAPING_ENGINE)
    out = tmp_path / f"worker-{uuid.uuid4().hex[:6]}.pid"
    slug = "esc-" + uuid.uuid4().hex[:6]
    mgmt = ManagementClient(project.slug, base_url=project.url, sdk_token=project.sdk_token)
    mgmt.ensure(
        WorkloadSpec(
            name=slug,
            slug=slug,
            model=MODEL,
            backend=Backend.VLLM,
            command=f"{sys.executable} {script} {out} --port {{port}}",
        )
    )
    return mgmt, out, slug


def worker_pid(out: Path) -> int:
    deadline = time.monotonic() + 30
    while not out.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert out.exists(), "the engine never started its worker"
    pid = int(out.read_text())
    assert alive(pid)
    # It really escaped: its own session, not the keeper's process group.
    assert os.getsid(pid) != os.getsid(0)
    return pid


def wait_dead(pid: int, within: float = 20.0) -> bool:
    deadline = time.monotonic() + within
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not alive(pid)


def test_a_setsid_worker_dies_with_a_kill9_of_the_manager(tmp_path: Path) -> None:
    data = tmp_path / "data"
    m = start_manager(data)
    try:
        _, out, _ = escaping_workload(tmp_path, bootstrap(m))
        pid = worker_pid(out)
        kill9(m)
        assert wait_dead(pid), f"the setsid worker {pid} outlived the Manager's kill -9"
        deadline = time.monotonic() + 20
        while engine_pids(data) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert engine_pids(data) == []
    finally:
        stop_manager(m)
    tally("process trees", kill9_of_manager=1, escaped_workers_left=0)


def test_a_setsid_worker_dies_on_delete_and_on_a_clean_stop(tmp_path: Path) -> None:
    data = tmp_path / "data"
    m = start_manager(data)
    try:
        project = bootstrap(m)
        mgmt, out, slug = escaping_workload(tmp_path, project)
        pid = worker_pid(out)
        mgmt.delete(slug)
        assert wait_dead(pid), "the setsid worker outlived its workload's delete"
        _, out2, _ = escaping_workload(tmp_path, project)
        pid2 = worker_pid(out2)
    finally:
        stop_manager(m)
    assert wait_dead(pid2, within=5), "the setsid worker outlived a clean stop"
    assert engine_pids(data) == []
    tally("process trees", deletes=1, clean_stops=1, escaped_workers_left=0)


def test_a_restarted_manager_reaps_what_even_the_keeper_left(tmp_path: Path) -> None:
    """Keeper and Manager both killed with -9: the orphaned worker runs on, and the next
    Manager on the data dir finds it by its tag and kills it before starting engines."""
    data = tmp_path / "data"
    m = start_manager(data)
    _, out, _ = escaping_workload(tmp_path, bootstrap(m))
    pid = worker_pid(out)
    keepers = keeper_pids(data)
    assert len(keepers) == 1
    os.kill(keepers[0], signal.SIGKILL)
    kill9(m)
    time.sleep(0.5)
    assert alive(pid), "the test needs a worker that survived both"
    m = start_manager(data)
    try:
        assert wait_dead(pid, within=5), "the restart did not reap it"
    finally:
        stop_manager(m)
    tally("process trees", restarts_reaping_leftovers=1, escaped_workers_left=0)
