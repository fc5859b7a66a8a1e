"""A worker agent (docs/contract.md §8) as an operator runs one: `inferencekey worker run` as
its own process, "another host" on its own loopback address (127.0.0.3) with its own data dir,
attached to the suite's Manager with a worker token from the CLI. A workload pinned to that
worker through the SDK becomes ready there and answers through the gateway with the SDK's data
client; the Manager runs no engine for it; SIGTERM stops the agent and its engine. With two
agents up, an unpinned workload's replicas are spread over the Manager and both; kill -9 of
one agent and its replica comes back on the Manager once the worker is lost (15 s of real
time: the suite's Manager runs on the wall clock)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from inferencekey import Backend, DataClient, ExecutionPolicy, ManagementClient, WorkloadSpec

from .conftest import Manager, Project, alive

AGENT_HOST = "127.0.0.3"


def pids(run_dir: Path) -> list[int]:
    return [int(p.read_text().strip()) for p in run_dir.glob("*.pid")]


def start_agent(
    m: Manager, host: str, data: Path, log: Path
) -> tuple[str, subprocess.Popen[bytes]]:
    """Registers a worker and runs its agent on `host` as an operator would; waits for its
    first sync."""
    worker = m.worker("agent-" + uuid.uuid4().hex[:6])
    token = m.cli("worker", "token", worker).stdout.strip()
    args = ["--manager", m.url, "--worker-id", worker, "--address", host, "--dev"]
    with log.open("ab") as out:
        agent = subprocess.Popen(
            [sys.executable, "-m", "inferencekey", "worker", "run", *args, "--data-dir", str(data)],
            env=dict(os.environ, INFERENCEKEY_WORKER_TOKEN=token),
            stdout=subprocess.DEVNULL,
            stderr=out,
        )
    deadline = time.monotonic() + 30
    while True:
        listed = json.loads(m.cli("worker", "list", "--json").stdout)
        if "last_seen" in next(w for w in listed if w["id"] == worker):
            return worker, agent
        assert agent.poll() is None, log.read_text()
        assert time.monotonic() < deadline, f"the agent never synced: {log.read_text()}"
        time.sleep(0.1)


# First in the module: the agents that other tests stop stay placement candidates until they are
# lost, 15 s after their last sync; none is then.
def test_unpinned_replicas_are_spread_and_a_killed_agents_come_back_elsewhere(
    project: Project, tmp_path: Path
) -> None:
    m = project.manager
    log = tmp_path / "agents.log"
    started = [
        (*start_agent(m, host, tmp_path / host, log), tmp_path / host)
        for host in ("127.0.0.3", "127.0.0.4")
    ]
    # Of two agents holding as many replicas, the one with the lower worker id gets one first.
    (a, agent_a, data_a), (b, agent_b, data_b) = sorted(started, key=lambda s: s[0])
    slug = "spread-" + uuid.uuid4().hex[:6]
    mgmt = ManagementClient.from_env()
    try:
        mgmt.ensure(
            WorkloadSpec(
                name=slug,
                slug=slug,
                model="meta-llama/Llama-3.1-8B-Instruct",
                backend=Backend.VLLM,
                command="vllm serve meta-llama/Llama-3.1-8B-Instruct",
                execution_policy=ExecutionPolicy.FIXED,
                execution_policy_config={"replicas": 3},
            )
        )
        spread = f"3 replicas serving on the local worker (1), worker {a} (1) and worker {b} (1)"
        deadline = time.monotonic() + 60
        while not (message := mgmt.get(slug)["status_message"]).startswith(spread):
            assert time.monotonic() < deadline, f"{message}\n{log.read_text()}"
            time.sleep(0.2)
        assert len(pids(data_a / "run")) == len(pids(data_b / "run")) == 1, log.read_text()
        endpoint = DataClient.from_env().endpoint(slug, api_key=project.key)
        for _ in range(6):
            assert endpoint.generate_text(prompt="spread", max_tokens=8).text

        engines = pids(data_a / "run")
        agent_a.kill()
        agent_a.wait(timeout=30)
        # The Manager notices once the worker has not synced for 15 s; from then on the dead
        # replica takes no traffic, and the replacement is placed a few syncs later.
        deadline = time.monotonic() + 60
        while f"worker {a} is lost" not in (message := mgmt.get(slug)["status_message"]):
            assert time.monotonic() < deadline, message
            time.sleep(0.2)
        assert not any(alive(p) for p in engines), "the engine died with its agent"
        while not (message := mgmt.get(slug)["status_message"]).startswith("3 replicas serving"):
            assert endpoint.generate_text(prompt="meanwhile", max_tokens=8).text
            assert time.monotonic() < deadline, message
            time.sleep(0.2)
        assert message.startswith(
            f"3 replicas serving on the local worker (2) and worker {b} (1); replica 2 on "
            f"worker {a} was lost (its agent was last heard from at "
        ), message
        assert "placed it again as replica 4 on the local worker" in message, message
        assert endpoint.generate_text(prompt="after", max_tokens=8).text
        assert len(pids(data_b / "run")) == 1, log.read_text()
    finally:
        mgmt.delete(slug)
        for agent in (agent_a, agent_b):
            if agent.poll() is None:
                agent.send_signal(signal.SIGTERM)
                agent.wait(timeout=30)


def test_a_pinned_workload_runs_on_the_agent_and_serves_through_the_gateway(
    project: Project, tmp_path: Path
) -> None:
    m = project.manager
    worker = m.worker("agent-" + uuid.uuid4().hex[:6])
    token = m.cli("worker", "token", worker).stdout.strip()
    data = tmp_path / "agent"
    log = tmp_path / "agent.log"
    # No --worker-id: the agent asks the Manager which worker its token was issued for.
    args = ["--manager", m.url, "--address", AGENT_HOST, "--dev"]
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
        deadline = time.monotonic() + 30
        while f"as worker {worker}" not in log.read_text():
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)

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
