"""The webhook outbox survives kill -9: deliveries still pending (the receiver was failing)
when the Manager is killed are sent after it restarts, none lost (docs/contract.md §6).

A real Manager, real SQLite, a real receiver on 127.0.0.1; the retry schedule is scaled
(``--webhook-time-scale 600``: 1 min becomes 100 ms) so the test sees it.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from integration.webhook_receiver import Receiver

from inferencekey import Backend, DataClient, ManagementClient, WorkloadSpec, webhooks

from .conftest import MODEL, kill9, start_manager, stop_manager, tally

FLAGS = ("--dev", "--allow-any-command", "--webhook-time-scale", "600")
JOBS = 20


def test_pending_deliveries_survive_kill_9(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    m = start_manager(data_dir, flags=FLAGS)
    receiver = Receiver()
    receiver.script("/hook", 500)
    try:
        project = "p-" + uuid.uuid4().hex[:8]
        env = m.init(project)
        key = m.key(project)
        mgmt = ManagementClient(
            project=project,
            base_url=env["INFERENCEKEY_BASE_URL"],
            sdk_token=env["INFERENCEKEY_SDK_TOKEN"],
        )
        slug = "chat-" + uuid.uuid4().hex[:6]
        mgmt.ensure(
            WorkloadSpec(
                name="Bot",
                slug=slug,
                model=MODEL,
                backend=Backend.VLLM,
                command=f"vllm serve {MODEL}",
            )
        )
        secret = mgmt.set_webhook(slug, receiver.url("/hook")).secret
        assert secret is not None
        ep = DataClient(base_url=env["INFERENCEKEY_BASE_URL"], project=project).endpoint(
            slug, api_key=key
        )
        jobs = [
            ep.submit_job(
                "chat", {"messages": [{"role": "user", "content": f"n{i}"}]}, context={"i": i}
            )
            for i in range(JOBS)
        ]
        ids = {j.id for j in jobs}
        for j in jobs:
            assert j.wait(timeout=120)["status"] == "succeeded"
        # Every job's delivery was tried and refused: all are pending in the outbox. Refused
        # deliveries are retried on the scaled schedule, so an early job's retry can arrive
        # before a later job's first attempt: wait until every job was tried, not for a count
        # of requests (the deadline only bounds a hung test).
        deadline = time.monotonic() + 120
        while (tried := {d.json["job_id"] for d in receiver.at("/hook")}) != ids:
            assert tried <= ids, f"deliveries for jobs never submitted: {tried - ids}"
            assert time.monotonic() < deadline, f"never tried: {ids - tried}"
            time.sleep(0.05)
        kill9(m)
        failed_before = len(receiver.at("/hook"))

        receiver.script("/hook", 200)
        m = start_manager(data_dir, flags=FLAGS)
        deadline_rounds = 0
        delivered: set[str] = set()
        while delivered != ids:
            deadline_rounds += 1
            assert deadline_rounds < 1200, f"undelivered after restart: {ids - delivered}"
            receiver.wait_for("/hook", failed_before + len(delivered) + 1, timeout=120)
            delivered = {d.json["job_id"] for d in receiver.at("/hook") if d.status == 200}
        for d in receiver.at("/hook"):
            webhooks.verify(d.body, d.headers["x-inferencekey-signature"], secret)
            assert d.headers["x-inferencekey-job-id"] == d.json["job_id"]
        tally(
            "webhooks",
            jobs=JOBS,
            delivered_after_kill9=len(delivered),
            attempts=len(receiver.at("/hook")),
        )
    finally:
        receiver.close()
        stop_manager(m)
