"""Two Manager processes on one PostgreSQL database (issue 15): slugs, idempotency keys and
tokens hold across them, because the database enforces them.

Runs when INFERENCEKEY_TEST_STORE is a postgres:// URL (scripts/test sets it for the
PostgreSQL run); on SQLite one data dir is one Manager, so there is nothing to share.
"""

from __future__ import annotations

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

from inferencekey.pytest_plugin import start_manager

from .conftest import STORE_ENV, Manager, _postgres_schema_url

pytestmark = pytest.mark.skipif(
    not os.environ.get(STORE_ENV, "").startswith(("postgres://", "postgresql://")),
    reason=f"{STORE_ENV} is not a PostgreSQL URL: only PostgreSQL is shared by two Managers",
)


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Manager, Manager]]:
    url = _postgres_schema_url()
    started: list[Manager] = []
    try:
        for name in ("a", "b"):
            d: Path = tmp_path_factory.mktemp("shared-" + name)
            m = start_manager(
                d, ["--allow-any-command", "--store", url], log=d / "manager-test.log"
            )
            started.append(Manager.of(m))
        yield started[0], started[1]
    finally:
        for m in started:
            m.proc.terminate()
            m.proc.wait(timeout=20)


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
