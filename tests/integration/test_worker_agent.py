"""A worker agent (docs/contract.md §8) as an operator runs one: `inferencekey worker run` as
its own process, "another host" on its own loopback address (127.0.0.3) with its own data dir,
attached to the suite's Manager with a worker token from the CLI. A workload pinned to that
worker through the SDK becomes ready there and answers through the gateway with the SDK's data
client; the Manager runs no engine for it; SIGTERM stops the agent and its engine."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from inferencekey import Backend, DataClient, ManagementClient, WorkloadSpec

from .conftest import Project

AGENT_HOST = "127.0.0.3"


def pids(run_dir: Path) -> list[int]:
    return [int(p.read_text().strip()) for p in run_dir.glob("*.pid")]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_pinned_workload_runs_on_the_agent_and_serves_through_the_gateway(
    project: Project, tmp_path: Path
) -> None:
    m = project.manager
    worker = m.worker("agent-" + uuid.uuid4().hex[:6])
    token = m.cli("worker", "token", worker).stdout.strip()
    data = tmp_path / "agent"
    log = tmp_path / "agent.log"
    args = ["--manager", m.url, "--worker-id", worker, "--address", AGENT_HOST, "--dev"]
    with log.open("wb") as out:
        agent = subprocess.Popen(
            [sys.executable, "-m", "inferencekey", "worker", "run", *args, "--data-dir", str(data)],
            env=dict(os.environ, INFERENCEKEY_WORKER_TOKEN=token),
            stdout=subprocess.DEVNULL,
            stderr=out,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            listed = json.loads(m.cli("worker", "list", "--json").stdout)
            mine = next(w for w in listed if w["id"] == worker)
            if "last_seen" in mine:
                break
            assert agent.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"the agent never synced: {log.read_text()}"
            time.sleep(0.1)
        assert mine["address"] == AGENT_HOST

        slug = "agent-" + uuid.uuid4().hex[:6]
        mgmt = ManagementClient.from_env()
        mgmt.ensure(
            WorkloadSpec(
                name=slug,
                slug=slug,
                model="meta-llama/Llama-3.1-8B-Instruct",
                backend=Backend.VLLM,
                command="vllm serve meta-llama/Llama-3.1-8B-Instruct",
                worker_id=worker,
            )
        )
        mgmt.wait_until_ready(slug, timeout=60, progress=False)
        assert f"serving on worker {worker}" in mgmt.get(slug)["status_message"]
        answer = DataClient.from_env().endpoint(slug, api_key=project.key)
        text = answer.generate_text(prompt="hello from another host", max_tokens=8).text
        assert isinstance(text, str) and text
        engines = pids(data / "run")
        assert len(engines) == 1, engines
        assert all(alive(p) for p in engines)
    finally:
        agent.send_signal(signal.SIGTERM)
        try:
            code = agent.wait(timeout=30)
        except subprocess.TimeoutExpired:
            agent.kill()
            raise
    assert code == 0, log.read_text()
    assert not any(alive(p) for p in engines), "an engine outlived its agent"
