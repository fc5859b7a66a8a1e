"""Worker tokens (docs/contract.md §8) as an operator meets them: a worker registered and its
`ik_worker_` token issued with the CLI and the admin API, then the token used where someone
might paste it by mistake (the SDK's two clients, and the control plane, the data plane and
the admin API over plain HTTP, as a client that checks nothing first would) and refused
everywhere as the wrong kind of credential, its secret in no answer; then listed and revoked
with the other keys."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from inferencekey import Backend, DataClient, ManagementClient, PermissionDenied, WorkloadSpec

from .conftest import Project


def admin_headers(project: Project) -> dict[str, str]:
    token = (project.manager.data_dir / "admin_token").read_text().strip()
    return {"Authorization": f"Bearer {token}"}


def test_worker_tokens_are_issued_for_registered_workers_only(project: Project) -> None:
    m = project.manager
    r = httpx.post(
        f"{m.url}/admin/workers/wrk_nosuchworker/tokens", headers=admin_headers(project), json={}
    )
    assert r.status_code == 404, r.text
    assert r.json()["error"]["code"] == "not_found"
    assert "wrk_nosuchworker" in r.json()["error"]["message"]
    failed = m.cli("worker", "token", "wrk_nosuchworker", check=False)
    assert failed.returncode != 0
    assert "wrk_nosuchworker" in failed.stderr

    worker = m.worker("agent-" + uuid.uuid4().hex[:6])
    r = httpx.post(
        f"{m.url}/admin/workers/{worker}/tokens", headers=admin_headers(project), json={}
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["kind"], body["worker_id"], body["project"]) == ("worker", worker, None)
    assert body["token"].startswith(f"ik_worker_{body['id']}_")


def test_a_worker_token_is_refused_on_both_planes(project: Project) -> None:
    m = project.manager
    slug = "wt-" + uuid.uuid4().hex[:6]
    ManagementClient.from_env().ensure(
        WorkloadSpec(
            name=slug,
            slug=slug,
            model="meta-llama/Llama-3.1-8B-Instruct",
            backend=Backend.VLLM,
            command="vllm serve meta-llama/Llama-3.1-8B-Instruct",
        )
    )
    worker = m.worker("agent-" + uuid.uuid4().hex[:6])
    token = m.cli("worker", "token", worker).stdout.strip()
    assert token.startswith("ik_worker_"), token
    token_id, secret = token.split("_")[2], token.rsplit("_", 1)[1]

    # The SDK refuses it before sending anything, on either client.
    with pytest.raises(PermissionDenied) as exc:
        ManagementClient(project.slug, base_url=m.url, sdk_token=token)
    assert exc.value.code == "wrong_credential_type"
    assert secret not in str(exc.value) and secret not in repr(exc.value)
    with pytest.raises(PermissionDenied) as exc:
        DataClient(project.slug, base_url=m.url, api_key=project.key).endpoint(slug, api_key=token)
    assert exc.value.code == "wrong_credential_type"
    assert secret not in str(exc.value)

    # The Manager refuses it on every plane.
    auth = {"Authorization": f"Bearer {token}"}
    chat = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 1}
    calls: list[tuple[str, str, Any]] = [
        ("GET", f"/api/projects/{project.slug}/workloads", None),
        ("GET", f"/api/projects/{project.slug}/workloads/{slug}", None),
        ("POST", f"/api/projects/{project.slug}/workloads", {"name": "x", "model_name": "m"}),
        ("POST", f"/endpoint/{project.slug}/{slug}/v1/chat/completions", chat),
        ("GET", f"/endpoint/{project.slug}/{slug}/v1/models", None),
        ("POST", f"/endpoint/{project.slug}/{slug}/jobs", {"kind": "chat", "body": chat}),
        ("GET", "/admin/projects", None),
        ("GET", "/admin/keys", None),
        ("POST", f"/admin/workers/{worker}/tokens", {}),
    ]
    with httpx.Client(base_url=m.url, headers=auth, timeout=30) as http:
        for method, path, body in calls:
            r = http.request(method, path, json=body)
            assert r.status_code == 403, f"{method} {path}: {r.status_code} {r.text}"
            err = r.json()["error"]
            assert err["code"] == "wrong_credential_type", f"{method} {path}: {r.text}"
            assert "ik_worker_" in err["message"], err
            assert secret not in r.text

    # Listed with the other keys (under no project), then revoked by id at once.
    listed = json.loads(m.cli("key", "list", "--json").stdout)
    mine = [k for k in listed if k["id"] == token_id]
    assert mine == [
        {
            "id": token_id,
            "kind": "worker",
            "worker_id": worker,
            "project": None,
            "scope": None,
            "created_at": mine[0]["created_at"],
            "revoked_at": None,
        }
    ], listed
    assert secret not in json.dumps(listed)
    of_project = json.loads(m.cli("key", "list", "--project", project.slug, "--json").stdout)
    assert token_id not in {k["id"] for k in of_project}
    m.cli("key", "revoke", token_id)
    listed = json.loads(m.cli("key", "list", "--json").stdout)
    assert next(k for k in listed if k["id"] == token_id)["revoked_at"]
