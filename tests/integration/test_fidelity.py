"""Issue 16's deviations from the public platform, each as a client meets it: raw HTTP against
the real Manager (what the public SDK sends), then through our SDK."""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from inferencekey import (
    Backend,
    DataClient,
    ManagementClient,
    NotFoundError,
    RateLimitError,
    ServerError,
    ValidationError,
    WorkloadSpec,
)

from .conftest import STORE_ENV, Project, _start

MODEL = "meta-llama/Llama-3.1-8B-Instruct"


def slug(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def sdk_token(project: Project) -> str:
    return project.env["INFERENCEKEY_SDK_TOKEN"]


def raw(
    project: Project, method: str, path: str, body: Any = None, token: str | None = None
) -> httpx.Response:
    """One request as any HTTP client sends it; `path` is relative to the Manager."""
    return httpx.request(
        method,
        project.manager.url + path,
        json=body,
        headers={"Authorization": f"Bearer {token or sdk_token(project)}"},
        timeout=90,
    )


def create(project: Project, body: dict[str, Any]) -> httpx.Response:
    return raw(project, "POST", f"/api/projects/{project.slug}/workloads", body)


def workload_body(s: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": s,
        "slug": s,
        "backend": "vllm",
        "model_name": MODEL,
        "config": {"command": f"vllm serve {MODEL}"},
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def error(resp: httpx.Response) -> dict[str, Any]:
    """The documented error body's inner object (asserting it has that form)."""
    body = resp.json()
    assert set(body) == {"error"}, body
    inner: dict[str, Any] = body["error"]
    assert isinstance(inner.get("code"), str) and inner["code"], body
    assert isinstance(inner.get("message"), str) and inner["message"], body
    return inner


# 1. rerank() on a reranker workload ---------------------------------------------------------


def test_a_reranker_serves_v1_rerank_over_raw_http(project: Project) -> None:
    s = slug("rr")
    assert create(project, workload_body(s, task_type="reranker")).status_code == 201
    base = f"/endpoint/{project.slug}/{s}"
    r = raw(
        project,
        "POST",
        f"{base}/v1/rerank",
        {"query": "refund policy", "documents": ["pizza", "our refund policy"], "top_n": 1},
        token=project.key,
    )
    assert r.status_code == 200, r.text
    assert [x["index"] for x in r.json()["results"]] == [1]
    # A sync route that does not fit the task type is refused, naming the ones that do.
    r = raw(
        project,
        "POST",
        f"{base}/v1/chat/completions",
        {"messages": [{"role": "user", "content": "hi"}]},
        token=project.key,
    )
    assert r.status_code == 400, r.text
    e = error(r)
    assert (e["code"], e["field"]) == ("validation_failed", "task_type")
    assert f"POST {base}/v1/rerank" in e["message"] and f"POST {base}/jobs" in e["message"]


def test_a_reranker_through_the_sdk(project: Project) -> None:
    s = slug("rr")
    ManagementClient.from_env().ensure(
        WorkloadSpec(
            name="Search reranker",
            slug=s,
            model="BAAI/bge-reranker-v2-m3",
            backend=Backend.VLLM,
            task_type="reranker",
            command="vllm serve BAAI/bge-reranker-v2-m3 --task score",
        )
    )
    ep = DataClient.from_env().endpoint(s, api_key=project.key)
    ranked = ep.rerank("llama", ["a car", "a llama", "llamas eat grass"], top_n=2)
    assert len(ranked.results) == 2 and ranked.results[0]["index"] in (1, 2)
    with pytest.raises(ValidationError) as exc:
        ep.embed(input=["a"])
    assert exc.value.status == 400 and exc.value.field == "task_type"
    assert "/v1/rerank" in str(exc.value)


def readiness(project: Project, s: str) -> list[dict[str, Any]]:
    """Every frame of the readiness stream, which ends after `ready` or `error`."""
    frames: list[dict[str, Any]] = []
    url = f"{project.manager.url}/api/projects/{project.slug}/workloads/{s}/readiness-events"
    headers = {"Authorization": f"Bearer {sdk_token(project)}"}
    with httpx.stream("GET", url, headers=headers, timeout=120) as r:
        assert r.status_code == 200, r.read()
        for line in r.iter_lines():
            if line.startswith("data:"):
                frames.append(json.loads(line[5:]))
    assert frames and frames[-1]["phase"] in ("ready", "error"), frames
    return frames


def vllm_spec(s: str, **overrides: Any) -> WorkloadSpec:
    fields: dict[str, Any] = {
        "name": s,
        "slug": s,
        "model": MODEL,
        "backend": Backend.VLLM,
        "command": f"vllm serve {MODEL}",
    }
    fields.update(overrides)
    return WorkloadSpec(**fields)


# 2. backend is required and stays -------------------------------------------------------------


def test_backend_is_required_on_create_over_raw_http(project: Project) -> None:
    for body in [
        workload_body(slug("nb"), backend=None),
        {**workload_body(slug("nb")), "backend": None},
    ]:
        r = create(project, body)
        assert r.status_code == 400, r.text
        e = error(r)
        assert (e["code"], e["field"]) == ("validation_failed", "backend"), e
        assert "required" in e["message"]
        assert (
            raw(
                project, "GET", f"/api/projects/{project.slug}/workloads/{body['slug']}"
            ).status_code
            == 404
        )


def test_a_patch_cannot_remove_the_backend(project: Project) -> None:
    s = slug("kb")
    w = create(project, workload_body(s)).json()
    r = raw(project, "PATCH", f"/api/workloads/{w['id']}", {"backend": None})
    assert r.status_code == 400, r.text
    e = error(r)
    assert (e["code"], e["field"]) == ("validation_failed", "backend"), e
    listed = raw(project, "GET", f"/api/projects/{project.slug}/workloads").json()
    assert all(isinstance(x.get("backend"), str) and x["backend"] for x in listed), listed
    assert (
        raw(project, "GET", f"/api/projects/{project.slug}/workloads/{s}").json()["backend"]
        == "vllm"
    )


def test_the_sdk_requires_a_backend_before_any_request(project: Project) -> None:
    s = slug("nb")
    mgmt = ManagementClient.from_env()
    with pytest.raises(ValidationError) as exc:
        mgmt.ensure(WorkloadSpec(name=s, slug=s, model=MODEL))
    assert exc.value.field == "backend" and exc.value.status is None
    with pytest.raises(NotFoundError):
        mgmt.get(s)


@pytest.mark.skipif(
    bool(os.environ.get(STORE_ENV)), reason="edits the SQLite file an older Manager left"
)
def test_old_rows_without_a_backend_are_filled_or_quarantined(tmp_path: Path) -> None:
    """Rows an older Manager stored without a backend: one whose command names an engine gets
    that engine's backend; the other is quarantined, so every listed workload has one."""
    m = _start(tmp_path)
    try:
        env = m.init("legacy")
        token = env["INFERENCEKEY_SDK_TOKEN"]
        mgmt = ManagementClient("legacy", base_url=m.url, sdk_token=token)
        inferred = mgmt.ensure(vllm_spec("inferred")).workload_id
        custom = mgmt.ensure(
            vllm_spec("custom", backend="my-engine", command="my-server --port {port}")
        ).workload_id
    finally:
        m.proc.terminate()
        m.proc.wait(timeout=20)
    db = sqlite3.connect(tmp_path / "manager.db")
    db.execute("UPDATE workloads SET backend = NULL")
    db.commit()
    db.close()
    m = _start(tmp_path)
    try:
        mgmt = ManagementClient("legacy", base_url=m.url, sdk_token=token)
        listed = httpx.get(
            f"{m.url}/api/projects/legacy/workloads",
            headers={"Authorization": f"Bearer {token}"},
        ).json()
        assert [(w["id"], w["backend"]) for w in listed] == [(inferred, "vllm")]
        assert mgmt.ensure(vllm_spec("inferred")).action == "unchanged"
        out = m.cli("status").stdout
        assert f"QUARANTINED workload {custom}" in out and "column backend: missing" in out, out
    finally:
        m.proc.terminate()
        m.proc.wait(timeout=20)


# 3. strings are kept as sent or refused --------------------------------------------------------


def test_free_text_is_kept_exactly_as_sent(project: Project) -> None:
    s = slug("pad")
    body = workload_body(
        s,
        name="  Padded name ",
        description=" two  spaces ",
        config={"command": f" vllm serve {MODEL} ", "note": " kept "},
    )
    r = create(project, body)
    assert r.status_code == 201, r.text
    for w in (r.json(), raw(project, "GET", f"/api/projects/{project.slug}/workloads/{s}").json()):
        assert w["name"] == "  Padded name "
        assert w["description"] == " two  spaces "
        assert w["config"] == {"command": f" vllm serve {MODEL} ", "note": " kept "}
    r = raw(project, "PATCH", f"/api/workloads/{r.json()['id']}", {"name": "\tRenamed "})
    assert r.status_code == 200 and r.json()["name"] == "\tRenamed ", r.text
    # The slug alone has a documented canonical form (§3.3), the same the SDKs compute.
    r = create(project, workload_body("  Mixed_Case--" + s + " ", slug=None))
    assert r.status_code == 201 and r.json()["slug"] == f"mixed-case-{s}", r.text


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("model_name", f" {MODEL}"),
        ("model_name", f"{MODEL}\n"),
        ("backend", "vllm "),
        ("task_type", " embedding"),
        ("execution_policy", "fixed "),
        ("worker_id", " wrk_x"),
        ("gpu_resource_id", "gpu_x "),
    ],
)
def test_padded_identifiers_are_refused_naming_the_field(
    project: Project, field: str, value: str
) -> None:
    s = slug("pad")
    r = create(project, workload_body(s, **{field: value}))
    assert r.status_code == 400, r.text
    e = error(r)
    assert (e["code"], e["field"]) == ("validation_failed", field), e
    # An update is held to the same rule.
    w = create(project, workload_body(s)).json()
    r = raw(project, "PATCH", f"/api/workloads/{w['id']}", {field: value})
    assert r.status_code == 400 and error(r)["field"] == field, r.text


def test_the_sdk_sends_padded_names_as_written_and_stays_in_sync(project: Project) -> None:
    s = slug("pad")
    mgmt = ManagementClient.from_env()
    spec = vllm_spec(s, name="  Support bot ")
    assert mgmt.ensure(spec).action == "created"
    assert mgmt.get(s)["name"] == "  Support bot "
    assert mgmt.ensure(spec).action == "unchanged"
    # A padded model is refused locally, as the Manager would refuse it.
    with pytest.raises(ValidationError) as exc:
        mgmt.ensure(vllm_spec(s, model=f"{MODEL} "))
    assert exc.value.field == "model" and exc.value.status is None


# 5. engine errors in the documented body ---------------------------------------------------------


@pytest.fixture
def chat_slug(project: Project) -> str:
    s = slug("err")
    ManagementClient.from_env().ensure(vllm_spec(s))
    return s


def chat_body(content: str, **extra: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": content}], **extra}


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "validation_failed"),
        (404, "not_found"),
        (429, "rate_limited"),
        (500, "backend_unavailable"),
    ],
)
def test_engine_errors_have_the_documented_body_over_raw_http(
    project: Project, chat_slug: str, stream: bool, status: int, code: str
) -> None:
    r = raw(
        project,
        "POST",
        f"/endpoint/{project.slug}/{chat_slug}/v1/chat/completions",
        chat_body(f"[[ik:status:{status}]]", stream=stream),
        token=project.key,
    )
    assert r.status_code == status, r.text
    e = error(r)
    assert e["code"] == code, e
    assert f"[[ik:status:{status}]] test hook" in e["message"], e
    assert r.headers["x-request-id"]


def test_engine_errors_through_the_sdk(project: Project, chat_slug: str) -> None:
    ep = DataClient.from_env().endpoint(chat_slug, api_key=project.key)
    with pytest.raises(ValidationError) as bad:
        ep.generate_text(prompt="[[ik:slow:soon]]")
    assert (bad.value.status, bad.value.code, bad.value.field) == (
        400,
        "validation_failed",
        "messages",
    )
    assert "test hook" in str(bad.value)
    with pytest.raises(ServerError) as failed:
        ep.generate_text(prompt="[[ik:status:500]]", max_retries=0)
    assert (failed.value.status, failed.value.code) == (500, "backend_unavailable")
    with pytest.raises(RateLimitError) as limited:
        list(ep.generate_text_stream(prompt="[[ik:status:429]]", max_retries=0))
    assert limited.value.code == "rate_limited" and limited.value.retry_after == 1


# 6. --dev replaces `python -m <engine>`; `error` is final ---------------------------------------


@pytest.mark.parametrize(
    ("backend", "command", "missing"),
    [
        ("sglang", "python -m sglang.launch_server --model-path {model}", "sglang"),
        ("sglang", "python3 -m sglang.launch_server --model-path {model}", "sglang"),
        ("vllm", "python -m vllm.entrypoints.openai.api_server --model {model}", "vllm"),
    ],
)
def test_dev_serves_python_m_engines_that_are_not_installed_over_raw_http(
    project: Project, backend: str, command: str, missing: str
) -> None:
    s = slug("pym")
    body = workload_body(s, backend=backend, config={"command": command.format(model=MODEL)})
    assert create(project, body).status_code == 201
    last = readiness(project, s)[-1]
    assert last["phase"] == "ready", last
    assert f"{missing} is not installed on this machine" in last["message"], last
    assert "reference engine" in last["message"], last
    r = raw(
        project,
        "POST",
        f"/endpoint/{project.slug}/{s}/v1/chat/completions",
        chat_body("Hola"),
        token=project.key,
    )
    assert r.status_code == 200 and r.json()["model"] == MODEL, r.text


def test_dev_serves_python_m_sglang_through_the_sdk(project: Project) -> None:
    s = slug("pym")
    mgmt = ManagementClient.from_env()
    mgmt.ensure(
        vllm_spec(
            s,
            backend=Backend.SGLANG,
            command=f"python -m sglang.launch_server --model-path {MODEL}",
        )
    )
    ready = mgmt.wait_until_ready(s, timeout=120, progress=False)
    assert ready["phase"] == "ready" and "sglang is not installed" in ready["message"], ready
    out = DataClient.from_env().endpoint(s, api_key=project.key).generate_text(prompt="Hola")
    assert "Hola" in out.text


CRASHING = "python3 -c 'import sys; print(\"engine: cannot start\"); sys.exit(3)'"


def test_an_error_frame_is_final_and_says_so_over_raw_http(project: Project) -> None:
    s = slug("dead")
    body = workload_body(s, backend="my-engine", config={"command": CRASHING})
    assert create(project, body).status_code == 201
    frames = readiness(project, s)
    last = frames[-1]
    assert last["phase"] == "error", frames
    assert "is stopped" in last["message"] and "update the workload" in last["message"], last
    assert "retrying" not in last["message"], last
    assert "engine: cannot start" in last["message"], last
    # Still stopped when asked again, and the stream says so at once.
    w = raw(project, "GET", f"/api/projects/{project.slug}/workloads/{s}").json()
    assert w["status"] == "error", w
    assert [f["phase"] for f in readiness(project, s)] == ["error"]
    r = raw(
        project,
        "POST",
        f"/endpoint/{project.slug}/{s}/v1/chat/completions",
        chat_body("hi"),
        token=project.key,
    )
    assert r.status_code == 503 and error(r)["code"] == "backend_unavailable", r.text
    assert "retry-after" not in r.headers


def test_an_error_is_final_through_the_sdk(project: Project) -> None:
    s = slug("dead")
    mgmt = ManagementClient.from_env()
    mgmt.ensure(vllm_spec(s, backend="my-engine", command=CRASHING))
    with pytest.raises(ServerError) as exc:
        mgmt.wait_until_ready(s, timeout=120, progress=False)
    assert "is stopped" in str(exc.value) and "retrying" not in str(exc.value)
    # Every start writes one header line to the replica's log: five, then no more.
    log = project.manager.data_dir / "logs" / project.slug / f"{s}-0.log"

    def starts() -> int:
        return sum(" starting: " in line for line in log.read_text().splitlines())

    assert starts() == 5
    # The update the message asks for starts it again (and it fails again, the same way).
    mgmt.ensure(vllm_spec(s, backend="my-engine", command=CRASHING, description="again"))
    with pytest.raises(ServerError):
        mgmt.wait_until_ready(s, timeout=120, progress=False)
    assert starts() == 10
