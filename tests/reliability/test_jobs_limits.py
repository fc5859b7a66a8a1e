"""Jobs cannot amplify memory or disk, and one tenant cannot block another (issue 19,
findings 3, 9 and 10), against a real Manager and its reference engine.

Before: a 31 MiB `/jobs` body took the Manager from 20 to 745 MiB RSS; a 3,954-byte
embeddings job stored a 168 MiB result; a tenant's 0.05 s job waited 19.5 s behind another
tenant's backlog (4 global FIFO slots, no timeout); the queue was unbounded.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from integration.conftest import Manager

from inferencekey import Backend, DataClient, ManagementClient, WorkloadSpec

from .conftest import MODEL, Project, bootstrap, rss_kib, start_manager, stop_manager, tally
from .documented import assert_documented

JOB_BODY_LIMIT = 16 << 20
#: The operation in the OpenAPI document.
JOBS = "/endpoint/{project}/{workload}/jobs"
PER_KEY = 256
TIMEOUT_S = 1


@pytest.fixture(scope="module")
def jm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Manager]:
    m = start_manager(tmp_path_factory.mktemp("jobs") / "data")
    yield m
    stop_manager(m)


def workload(p: Project, slug: str, task_type: str = "text2text", **kw: Any) -> None:
    ManagementClient(p.slug, base_url=p.url, sdk_token=p.sdk_token).ensure(
        WorkloadSpec(
            name=slug, slug=slug, model=MODEL, backend=Backend.VLLM, task_type=task_type, **kw
        )
    )


def jobs_url(p: Project, slug: str) -> str:
    return f"{p.url}/endpoint/{p.slug}/{slug}/jobs"


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def wait_job(p: Project, slug: str, job_id: str, within: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        r = httpx.get(f"{jobs_url(p, slug)}/{job_id}", headers=auth(p.key)).json()
        if r["status"] in {"succeeded", "failed"}:
            return r
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish within {within}s")


def test_job_bodies_are_capped_and_parsed_without_amplification(jm: Manager) -> None:
    p = bootstrap(jm)
    workload(p, "bodies")
    url = jobs_url(p, "bodies")
    before = rss_kib(jm.proc.pid)
    # Over the limit: 413 before anything is parsed, with and without Content-Length.
    big = b'{"kind": "chat", "body": {"x": "' + b"a" * JOB_BODY_LIMIT + b'"}}'
    r = httpx.post(url, content=big, headers=auth(p.key) | {"content-type": "application/json"})
    assert r.status_code == 413, r.text
    assert assert_documented("POST", JOBS, 413, r.headers, r.content) == "payload_too_large"
    r = httpx.post(url, content=iter([big]), headers=auth(p.key))
    assert r.status_code == 413, r.text
    assert assert_documented("POST", JOBS, 413, r.headers, r.content) == "payload_too_large"
    # Just under it, in the shape that amplified most (a huge array of small numbers): kept
    # as text, so the Manager grows by a few times the body, not ~25x.
    n = (JOB_BODY_LIMIT - 200) // 2
    body = '{"kind": "chat", "body": {"messages": [], "x": [' + ",".join(["1"] * (n // 2)) + "]}}"
    r = httpx.post(url, content=body, headers=auth(p.key), timeout=60)
    assert r.status_code == 202, r.text
    grew_mib = (rss_kib(jm.proc.pid) - before) / 1024
    assert grew_mib < 6 * JOB_BODY_LIMIT / (1 << 20), f"RSS grew {grew_mib:.0f} MiB"
    tally("jobs: limits", oversized_bodies_413=2, body_mib=16, rss_growth_mib=round(grew_mib))


def test_a_huge_result_fails_the_job_and_is_never_stored(jm: Manager) -> None:
    p = bootstrap(jm)
    workload(p, "emb", task_type="embedding")
    before = rss_kib(jm.proc.pid)
    db = jm.data_dir / "manager.db"
    db_before = db.stat().st_size + (jm.data_dir / "manager.db-wal").stat().st_size
    # ~1.5 KB of request asking for ~20 MB of floats (the finding: 3,954 bytes, 168 MB).
    body = {"input": ["a"] * 256, "dimensions": 4096}
    assert len(json.dumps(body)) < 2000
    r = httpx.post(
        jobs_url(p, "emb"), json={"kind": "embeddings", "body": body}, headers=auth(p.key)
    )
    assert r.status_code == 202, r.text
    job = wait_job(p, "emb", r.json()["job_id"])
    assert job["status"] == "failed", job
    assert job["error"]["code"] == "result_too_large", job
    assert "MiB" in job["error"]["message"]
    grew_mib = (rss_kib(jm.proc.pid) - before) / 1024
    db_grew = db.stat().st_size + (jm.data_dir / "manager.db-wal").stat().st_size - db_before
    assert grew_mib < 100, f"RSS grew {grew_mib:.0f} MiB"
    assert db_grew < 1 << 20, f"the database grew {db_grew} bytes"
    # A result under the limit is stored and served whole.
    ok = httpx.post(
        jobs_url(p, "emb"),
        json={"kind": "embeddings", "body": {"input": ["a", "b"], "dimensions": 8}},
        headers=auth(p.key),
    )
    done = wait_job(p, "emb", ok.json()["job_id"])
    assert done["status"] == "succeeded", done
    assert len(done["result"]["data"]) == 2
    tally("jobs: limits", oversized_results_failed=1, result_rss_growth_mib=round(grew_mib))


def test_per_key_quota_and_a_key_of_its_own(jm: Manager) -> None:
    p = bootstrap(jm)
    # An engine that never becomes healthy: claimed jobs wait for it, the rest queue.
    workload(p, "stuck", command="python3 -c 'import time; time.sleep(600)' {port}")
    url = jobs_url(p, "stuck")
    job = {"kind": "chat", "body": {"messages": [{"role": "user", "content": "x"}]}}
    with httpx.Client(headers=auth(p.key)) as c:
        codes = [c.post(url, json=job).status_code for _ in range(PER_KEY)]
        assert codes == [202] * PER_KEY
        r = c.post(url, json=job)
    assert r.status_code == 429, r.text
    assert assert_documented("POST", JOBS, 429, r.headers, r.content) == "job_quota_exceeded"
    assert r.headers["retry-after"]
    # Another key of the same project has its own quota.
    other = jm.key(p.slug)
    assert httpx.post(url, json=job, headers=auth(other)).status_code == 202
    ManagementClient(p.slug, base_url=p.url, sdk_token=p.sdk_token).delete("stuck")
    tally("jobs: limits", quota_per_key=PER_KEY, over_quota_429=1)


def test_one_tenants_backlog_does_not_block_another(jm: Manager) -> None:
    a = bootstrap(jm)
    b = bootstrap(jm)
    workload(a, "bulk")
    workload(b, "quick")
    DataClient(a.slug, base_url=a.url, api_key=a.key).endpoint("bulk").generate_text(
        prompt="warm", max_tokens=1
    )
    DataClient(b.slug, base_url=b.url, api_key=b.key).endpoint("quick").generate_text(
        prompt="warm", max_tokens=1
    )
    slow = {"kind": "chat", "body": {"messages": [{"role": "user", "content": "[[ik:slow:1500]]"}]}}
    a_ids = [
        httpx.post(jobs_url(a, "bulk"), json=slow, headers=auth(a.key)).json()["job_id"]
        for _ in range(16)
    ]
    quick = {"kind": "chat", "body": {"messages": [{"role": "user", "content": "hi"}]}}
    b_id = httpx.post(jobs_url(b, "quick"), json=quick, headers=auth(b.key)).json()["job_id"]
    assert wait_job(b, "quick", b_id)["status"] == "succeeded"
    a_pending = sum(
        httpx.get(f"{jobs_url(a, 'bulk')}/{j}", headers=auth(a.key)).json()["status"]
        in {"queued", "running"}
        for j in a_ids
    )
    # FIFO would have run all 16 of A's jobs first; fair claims run B's at the next free slot.
    assert a_pending >= 8, f"B's job finished after A's backlog drained ({a_pending} left)"
    tally("jobs: fairness", backlog_of_a=16, a_pending_when_b_done=a_pending)


def test_a_job_that_outlives_the_job_timeout_fails_typed(tmp_path: Path) -> None:
    m = start_manager(
        tmp_path / "data",
        flags=("--dev", "--allow-any-command", "--job-timeout", str(TIMEOUT_S)),
    )
    try:
        p = bootstrap(m)
        workload(p, "slow")
        hang = {
            "kind": "chat",
            "body": {"messages": [{"role": "user", "content": f"[[ik:slow:{TIMEOUT_S * 5000}]]"}]},
        }
        r = httpx.post(jobs_url(p, "slow"), json=hang, headers=auth(p.key))
        job = wait_job(p, "slow", r.json()["job_id"])
    finally:
        stop_manager(m)
    assert job["status"] == "failed", job
    assert job["error"]["code"] == "job_timeout", job
    assert "--job-timeout" in job["error"]["message"]
    tally("jobs: fairness", timed_out=1)
