"""Webhook delivery (docs/contract.md §6) against a real Manager and a real receiver on
127.0.0.1: every job's result arrives signed (checked with ``inferencekey.webhooks.verify``),
failing receivers are retried on the schedule, failed jobs are delivered as ``job.failed``,
remote destinations are refused, and the signing secret is shown once.

The Manager runs with ``--webhook-time-scale 6000``: the documented schedule (1 min, 5 min,
15 min, 1 h, 6 h) becomes 10 ms … 3.6 s, so every retry is exercised.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from inferencekey import (
    Backend,
    DataClient,
    Endpoint,
    ManagementClient,
    NotFoundError,
    ValidationError,
    WorkloadSpec,
    webhooks,
)
from inferencekey.pytest_plugin import start_manager

from .conftest import Manager
from .webhook_receiver import HANG, Delivery, Receiver

SCALE = 6000


@dataclass
class Setup:
    manager: Manager
    env: dict[str, str]
    key: str
    mgmt: ManagementClient
    receiver: Receiver
    slug: str
    chat: Endpoint


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    data_dir = tmp_path_factory.mktemp("webhooks") / "data"
    m = Manager.of(
        start_manager(
            data_dir,
            ["--allow-any-command", "--webhook-time-scale", str(SCALE)],
            log=data_dir.with_name("manager.log"),
        )
    )
    receiver = Receiver()
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
                name="Support bot",
                slug=slug,
                model="meta-llama/Llama-3.1-8B-Instruct",
                backend=Backend.VLLM,
                command="vllm serve meta-llama/Llama-3.1-8B-Instruct",
            )
        )
        data = DataClient(base_url=env["INFERENCEKEY_BASE_URL"], project=project)
        chat = data.endpoint(slug, api_key=key)
        yield Setup(m, env, key, mgmt, receiver, slug, chat)
    finally:
        receiver.close()
        m.proc.terminate()
        try:
            m.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            m.proc.kill()


def _check(d: Delivery, secret: str, job_id: str | None = None) -> dict[str, Any]:
    webhooks.verify(d.body, d.headers["x-inferencekey-signature"], secret)
    body: dict[str, Any] = d.json
    if job_id is not None:
        assert d.headers["x-inferencekey-event"] == "job"
        assert d.headers["x-inferencekey-job-id"] == job_id == body["job_id"]
    return body


def _api(s: Setup, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    req = urllib.request.Request(
        s.env["INFERENCEKEY_BASE_URL"] + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={
            "Authorization": "Bearer " + s.env["INFERENCEKEY_SDK_TOKEN"],
            "Content-Type": "application/json",
        },
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            raw = r.read()
            return r.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


@pytest.fixture(scope="module")
def secret(setup: Setup) -> str:
    hook = setup.mgmt.set_webhook(setup.slug, setup.receiver.url("/hook"))
    assert hook.secret is not None and hook.secret.startswith("whsec_")
    return hook.secret


def test_the_secret_is_shown_once(setup: Setup, secret: str) -> None:
    got = setup.mgmt.get_webhook(setup.slug)
    assert got.secret is None
    assert got.url == setup.receiver.url("/hook")
    assert got.secret_hint.endswith(secret[-4:])
    assert secret not in repr(got)
    # Changing the URL keeps the secret (and does not show it again).
    again = setup.mgmt.set_webhook(setup.slug, setup.receiver.url("/hook"))
    assert again.secret is None and again.secret_hint == got.secret_hint
    # Raw HTTP: the GET answer carries no secret at all.
    status, body = _api(
        setup, "GET", f"/api/projects/{setup.mgmt.project}/workloads/{setup.slug}/webhook"
    )
    assert status == 200 and "secret" not in body and secret not in json.dumps(body)
    # The Manager's log never holds it.
    assert secret not in setup.manager.log.read_text(errors="replace")


def test_every_job_gets_a_signed_delivery(setup: Setup, secret: str) -> None:
    jobs = [
        setup.chat.submit_job(
            "chat", {"messages": [{"role": "user", "content": f"job {i}"}]}, context={"n": i}
        )
        for i in range(5)
    ]
    for job in jobs:
        assert job.wait(timeout=60)["status"] == "succeeded"
    ids = {job.id for job in jobs}
    got = setup.receiver.wait_for("/hook", 5)
    mine = [d for d in got if d.json.get("job_id") in ids]
    assert {d.json["job_id"] for d in mine} == ids
    for d in mine:
        body = _check(d, secret, d.json["job_id"])
        assert body["event"] == "job.completed"
        assert isinstance(body["ts"], int)
        assert body["data"]["status"] == "succeeded"
        n = body["context"]["n"]
        assert f"job {n}" in body["data"]["output"]["choices"][0]["message"]["content"]
        assert body["data"]["usage"]["total_tokens"] > 0
        assert body["data"]["error"] is None
    # A forged or altered delivery does not verify.
    with pytest.raises(ValidationError):
        webhooks.verify(mine[0].body + b" ", mine[0].headers["x-inferencekey-signature"], secret)


def test_a_failing_receiver_is_retried_on_the_schedule(setup: Setup, secret: str) -> None:
    setup.receiver.script("/flaky", 500, 503, 200)
    job = setup.chat.submit_job(
        "chat",
        {"messages": [{"role": "user", "content": "retry me"}]},
        webhook_url=setup.receiver.url("/flaky"),
    )
    assert job.wait(timeout=60)["status"] == "succeeded"
    got = setup.receiver.wait_for("/flaky", 3)
    assert [d.status for d in got] == [500, 503, 200]
    for d in got:
        _check(d, secret, job.id)
    # Same job, same body: receivers dedupe on the job id.
    assert len({d.body for d in got}) == 1
    status, listed = _api(
        setup,
        "GET",
        f"/api/projects/{setup.mgmt.project}/workloads/{setup.slug}/webhook/deliveries",
    )
    assert status == 200
    row = next(r for r in listed if r["job_id"] == job.id)
    assert row["state"] == "delivered" and row["attempts"] == 3 and row["last_status"] == 200


def test_a_receiver_that_never_answers_2xx_is_given_up_on_and_recorded(
    setup: Setup, secret: str
) -> None:
    setup.receiver.script("/down", 500)
    job = setup.chat.submit_job(
        "chat",
        {"messages": [{"role": "user", "content": "nobody home"}]},
        webhook_url=setup.receiver.url("/down"),
    )
    assert job.wait(timeout=60)["status"] == "succeeded"
    # The first attempt and the five retries of the schedule.
    got = setup.receiver.wait_for("/down", 6)
    path = f"/api/projects/{setup.mgmt.project}/workloads/{setup.slug}/webhook/deliveries"
    for _ in range(200):
        _, listed = _api(setup, "GET", path)
        row = next(r for r in listed if r["job_id"] == job.id)
        if row["state"] != "pending":
            break
        setup.receiver.wait_for("/down", 6, timeout=1)
    assert row["state"] == "failed" and row["attempts"] == 6, row
    assert "500" in row["last_error"]
    assert len(setup.receiver.at("/down")) == len(got) == 6


def test_a_failed_job_is_delivered_as_job_failed(setup: Setup, secret: str) -> None:
    job = setup.chat.submit_job(
        "chat",
        {"messages": [{"role": "user", "content": "[[ik:status:500]] fail"}]},
        context={"ticket": 9},
        webhook_url=setup.receiver.url("/failed"),
    )
    assert job.wait(timeout=60)["status"] == "failed"
    (d,) = setup.receiver.wait_for("/failed", 1)
    body = _check(d, secret, job.id)
    assert body["event"] == "job.failed"
    assert body["context"] == {"ticket": 9}
    assert body["data"]["status"] == "failed"
    assert body["data"]["error"]["code"] == "engine_error"
    assert "output" not in body["data"]


def test_a_slow_receiver_does_not_block_other_deliveries(setup: Setup, secret: str) -> None:
    setup.receiver.script("/slow", HANG)
    slow = [
        setup.chat.submit_job(
            "chat",
            {"messages": [{"role": "user", "content": f"slow {i}"}]},
            webhook_url=setup.receiver.url("/slow"),
        )
        for i in range(3)
    ]
    for job in slow:
        assert job.wait(timeout=60)["status"] == "succeeded"
    fast = setup.chat.submit_job(
        "chat",
        {"messages": [{"role": "user", "content": "fast"}]},
        webhook_url=setup.receiver.url("/fast"),
    )
    assert fast.wait(timeout=60)["status"] == "succeeded"
    (d,) = setup.receiver.wait_for("/fast", 1)
    _check(d, secret, fast.id)
    # The fast delivery arrived while the slow receiver still held its requests.
    assert setup.receiver.at("/slow") == []
    setup.receiver.release()
    got = setup.receiver.wait_for("/slow", 3)
    assert {x.json["job_id"] for x in got} >= {j.id for j in slow}


def test_ping(setup: Setup, secret: str) -> None:
    before = len(setup.receiver.at("/hook"))
    out = setup.mgmt.test_webhook(setup.slug)
    assert out == {"delivered": True, "status": 200, "error": None}
    d = setup.receiver.at("/hook")[before]
    assert d.headers["x-inferencekey-event"] == "ping"
    assert _check(d, secret)["event"] == "ping"


def test_remote_and_bad_urls_are_refused(setup: Setup, secret: str) -> None:
    for bad in ["http://example.com/hook", "http://10.1.2.3/h", "ftp://127.0.0.1/h", "nope"]:
        with pytest.raises(ValidationError) as exc:
            setup.mgmt.set_webhook(setup.slug, bad)
        assert exc.value.field == "url", bad
        with pytest.raises(ValidationError) as exc:
            setup.chat.submit_job("chat", {"messages": []}, webhook_url=bad)
        assert exc.value.field == "webhook_url", bad
    with pytest.raises(ValidationError) as exc:
        setup.mgmt.set_webhook(setup.slug, "http://example.com/")
    assert "--allow-remote-webhooks" in str(exc.value)
    # The destination is unchanged.
    assert setup.mgmt.get_webhook(setup.slug).url == setup.receiver.url("/hook")
    status, body = _api(
        setup,
        "PUT",
        f"/api/projects/{setup.mgmt.project}/workloads/{setup.slug}/webhook",
        {"url": "http://127.0.0.1:9/h", "secret": "mine"},
    )
    assert status == 400 and body["error"]["field"] == "secret"


def test_a_per_job_url_needs_the_workloads_secret(setup: Setup) -> None:
    other = "other-" + uuid.uuid4().hex[:6]
    setup.mgmt.ensure(
        WorkloadSpec(
            name="Other",
            slug=other,
            model="meta-llama/Llama-3.1-8B-Instruct",
            backend=Backend.VLLM,
            command="vllm serve meta-llama/Llama-3.1-8B-Instruct",
        )
    )
    ep = DataClient(
        base_url=setup.env["INFERENCEKEY_BASE_URL"], project=setup.mgmt.project
    ).endpoint(other, api_key=setup.key)
    with pytest.raises(ValidationError) as exc:
        ep.submit_job("chat", {"messages": []}, webhook_url=setup.receiver.url("/x"))
    assert exc.value.field == "webhook_url" and "secret" in str(exc.value)
    with pytest.raises(NotFoundError):
        setup.mgmt.get_webhook(other)
    setup.mgmt.set_webhook(other, setup.receiver.url("/x"))
    setup.mgmt.delete_webhook(other)
    with pytest.raises(NotFoundError):
        setup.mgmt.get_webhook(other)


def test_the_async_client_has_the_same_calls(setup: Setup) -> None:
    async def main() -> None:
        from inferencekey import AsyncManagementClient

        mgmt = AsyncManagementClient(
            project=setup.mgmt.project,
            base_url=setup.env["INFERENCEKEY_BASE_URL"],
            sdk_token=setup.env["INFERENCEKEY_SDK_TOKEN"],
        )
        before = await mgmt.get_webhook(setup.slug)
        rotated = await mgmt.set_webhook(setup.slug, before.url, rotate_secret=True)
        assert rotated.secret is not None and rotated.secret_hint != before.secret_hint
        assert rotated.secret not in repr(rotated)
        out = await mgmt.test_webhook(setup.slug)
        assert out["delivered"] is True
        d = setup.receiver.at("/hook")[-1]
        webhooks.verify(d.body, d.headers["x-inferencekey-signature"], rotated.secret)
        with pytest.raises(ValidationError) as exc:
            await mgmt.set_webhook(setup.slug, "http://example.com/")
        assert exc.value.field == "url"

    asyncio.run(main())
