"""Security: the token plane/project/scope matrix, exhaustively; secrets never in logs, error
text, repr or the data dir; request-body and SSE-event size limits; loopback-only binding;
the engine-command allowlist.
"""

from __future__ import annotations

import http.server
import itertools
import json
import logging
import re
import socket
import stat
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from integration.conftest import Manager

from inferencekey import (
    Backend,
    DataClient,
    InferenceKeyError,
    ManagementClient,
    ProtocolError,
    ValidationError,
    WorkloadSpec,
)
from inferencekey import _native as native

from .conftest import MODEL, bootstrap, start_manager, stop_manager, tally
from .documented import assert_documented

ERROR_KEYS = {"code", "message", "field"}


def assert_error_body(resp: httpx.Response, secrets: list[str] = ()) -> dict[str, Any]:
    """The documented error body (docs/contract.md §2), with no secret in it."""
    assert resp.headers["content-type"].startswith("application/json"), resp.text
    body = resp.json()
    assert set(body) == {"error"}, body
    err = body["error"]
    assert isinstance(err, dict) and set(err) <= ERROR_KEYS, body
    assert isinstance(err["code"], str) and err["code"]
    assert isinstance(err["message"], str) and err["message"]
    assert isinstance(err.get("field", ""), str)
    for s in secrets:
        assert s not in resp.text, "an error body carries a secret"
    return err


def secret(token: str) -> str:
    return token.rsplit("_", 1)[1]


def spec(slug: str, **kw: Any) -> WorkloadSpec:
    return WorkloadSpec(
        name=slug,
        slug=slug,
        model=MODEL,
        backend=kw.pop("backend", Backend.VLLM),
        command=kw.pop("command", f"vllm serve {MODEL}"),
        **kw,
    )


# --- the token matrix ---------------------------------------------------------------------


@dataclass(frozen=True)
class Tok:
    name: str
    raw: str | None
    #: the plane the token is valid for, None for malformed / unknown / revoked / absent
    kind: str | None
    project: str | None = None
    scope: str | None = None

    @property
    def prefix_kind(self) -> str | None:
        for k in ("sdk", "live", "admin", "worker"):
            if self.raw and self.raw.startswith(f"ik_{k}_"):
                return k
        return None


@dataclass(frozen=True)
class Route:
    name: str
    plane: str  # sdk | live | admin
    method: str
    path: str  # {p} project, {w} workload slug, {id} workload id, {job} job id
    body: dict[str, Any] | None = None
    ok: int = 200


ROUTES = [
    Route("list", "sdk", "GET", "/api/projects/{p}/workloads"),
    Route("list?slug", "sdk", "GET", "/api/projects/{p}/workloads?slug={w}"),
    Route("get", "sdk", "GET", "/api/projects/{p}/workloads/{w}"),
    Route(
        "create",
        "sdk",
        "POST",
        "/api/projects/{p}/workloads",
        {"name": "{w}", "slug": "{w}", "backend": "vllm", "model_name": MODEL},
        409,  # the workload exists: past authorisation, the create conflicts
    ),
    Route("readiness", "sdk", "GET", "/api/projects/{p}/workloads/{w}/readiness-events"),
    Route("get-by-id", "sdk", "GET", "/api/workloads/{id}"),
    Route("patch", "sdk", "PATCH", "/api/workloads/{id}", {}),
    Route("delete", "sdk", "DELETE", "/api/workloads/{id}", None, 204),
    Route(
        "chat",
        "live",
        "POST",
        "/endpoint/{p}/{w}/v1/chat/completions",
        {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 1},
    ),
    Route("models", "live", "GET", "/endpoint/{p}/{w}/v1/models"),
    Route(
        "job-submit",
        "live",
        "POST",
        "/endpoint/{p}/{w}/jobs",
        {"kind": "embeddings", "body": {"input": "x"}},
        202,
    ),
    Route("job-get", "live", "GET", "/endpoint/{p}/{w}/jobs/{job}"),
    Route("admin-projects", "admin", "GET", "/admin/projects"),
    Route("admin-keys", "admin", "GET", "/admin/keys"),
]


@dataclass
class World:
    m: Manager
    a: str
    b: str
    ids: dict[tuple[str, str], str]
    job: str
    tokens: list[Tok]
    secrets: list[str]


@pytest.fixture(scope="module")
def world(manager: Manager) -> World:
    a, b = bootstrap(manager), bootstrap(manager)
    ids: dict[tuple[str, str], str] = {}
    for p, slugs in ((a, ["wa1", "wa2"]), (b, ["wb"])):
        mgmt = ManagementClient(p.slug, base_url=manager.url, sdk_token=p.sdk_token)
        for s in slugs:
            ids[(p.slug, s)] = mgmt.ensure(spec(s)).workload_id
    job = (
        DataClient(a.slug, base_url=manager.url, api_key=a.key)
        .endpoint("wa1")
        .submit_job("embeddings", {"input": "x"})
        .id
    )
    sdk_b = b.sdk_token
    live_wa1 = manager.key(a.slug, "wa1")
    revoked_sdk = manager.init(a.slug)["INFERENCEKEY_SDK_TOKEN"]
    revoked_live = manager.key(a.slug)
    for t in (revoked_sdk, revoked_live):
        manager.cli("key", "revoke", t.split("_")[2])
    admin = (manager.data_dir / "admin_token").read_text().strip()
    # A worker agent's token: no route of the matrix is its plane (/agent), so every cell
    # refuses it as the wrong kind.
    worker = manager.cli("worker", "token", manager.worker("matrix-box")).stdout.strip()
    tokens = [
        Tok("none", None, None),
        Tok("not-a-token", "hunter2", None),
        Tok("sdk-garbled", "ik_sdk_garbled", None),
        Tok("live-garbled", "ik_live_gar bled", None),
        Tok("sdk-unknown", "ik_sdk_unknown0000_" + "x" * 32, None),
        Tok("live-forged", f"ik_live_{a.key.split('_')[2]}_" + "y" * 32, None),
        Tok("sdk-revoked", revoked_sdk, None),
        Tok("live-revoked", revoked_live, None),
        Tok("sdk-A", a.sdk_token, "sdk", a.slug),
        Tok("sdk-B", sdk_b, "sdk", b.slug),
        Tok("live-A-all", a.key, "live", a.slug, "*"),
        Tok("live-A-wa1", live_wa1, "live", a.slug, "wa1"),
        Tok("live-B-all", b.key, "live", b.slug, "*"),
        Tok("admin", admin, "admin"),
        Tok("worker", worker, "worker"),
        Tok("worker-garbled", "ik_worker_gar bled", None),
    ]
    secrets = [secret(t.raw) for t in tokens if t.raw and t.raw.count("_") >= 3]
    return World(manager, a.slug, b.slug, ids, job, tokens, secrets)


def expected(tok: Tok, route: Route, project: str, workload: str, w: World) -> tuple[int, str]:
    """What the contract says this token gets on this route and target."""
    if tok.raw is None:
        return 401, "unauthenticated"
    if tok.prefix_kind is not None and tok.prefix_kind != route.plane:
        return 403, "wrong_credential_type"
    if tok.kind is None:
        return 401, "unauthenticated"
    if route.plane == "admin":
        return 200, ""
    owner = next(p for (p, s) in w.ids if s == workload)
    if "{id}" in route.path:
        if owner != tok.project:
            return 404, "not_found"
        return route.ok, ""
    if project != tok.project:
        return 403, "project_scope_mismatch"
    if tok.scope not in (None, "*", workload):
        return 403, "scope_insufficient"
    if route.name == "job-get" and workload != "wa1":
        return 404, "not_found"
    return route.ok, ""


def fill(text: str, project: str, workload: str, wid: str, job: str) -> str:
    return (
        text.replace("{p}", project)
        .replace("{w}", workload)
        .replace("{id}", wid)
        .replace("{job}", job)
    )


def call(
    http: httpx.Client,
    route: Route,
    path: str,
    headers: dict[str, str],
    body: Any,
    w: World,
) -> tuple[int, str]:
    """One cell: the status and error code (a stream's status only: it is not read)."""
    with http.stream(route.method, path, headers=headers, json=body) as resp:
        if resp.headers.get("content-type", "").startswith("text/event-stream"):
            return resp.status_code, ""
        resp.read()
        code = ""
        if resp.status_code >= 400:
            code = assert_error_body(resp, w.secrets)["code"]
        return resp.status_code, code


def test_token_matrix(world: World) -> None:
    w = world
    targets = [(w.a, "wa1"), (w.a, "wa2"), (w.b, "wb")]
    owners = {
        t.project: ManagementClient(t.project, base_url=w.m.url, sdk_token=t.raw)
        for t in w.tokens
        if t.kind == "sdk" and t.project
    }
    cells = 0
    mismatches = []
    # A fresh connection per cell: see test_gateway_error_keeps_or_closes_the_connection.
    fresh = httpx.Limits(max_keepalive_connections=0)
    with httpx.Client(base_url=w.m.url, timeout=30, limits=fresh) as http:
        for tok, route, (project, workload) in itertools.product(w.tokens, ROUTES, targets):
            if route.plane == "admin" and (project, workload) != targets[0]:
                continue  # admin routes take no target
            want_status, want_code = expected(tok, route, project, workload, w)
            wid = w.ids[(project, workload)]
            if route.name == "delete" and want_status == 204:
                # Deleting for real: use a disposable workload of the same project.
                wid = owners[project].ensure(spec("del-" + uuid.uuid4().hex[:6])).workload_id
            headers = {"Authorization": f"Bearer {tok.raw}"} if tok.raw is not None else {}
            body = None
            if route.body is not None:
                body = json.loads(fill(json.dumps(route.body), project, workload, wid, w.job))
            try:
                got = call(
                    http, route, fill(route.path, project, workload, wid, w.job), headers, body, w
                )
            except httpx.TransportError as e:
                raise AssertionError(f"{tok.name} {route.name} {project}/{workload}: {e!r}") from e
            cells += 1
            want = (409, "slug_conflict") if want_status in (409,) else (want_status, want_code)
            if got != want:
                mismatches.append(f"{tok.name} {route.name} {project}/{workload}: {got} != {want}")
    assert mismatches == [], "\n".join(mismatches)
    tally(
        "security: token matrix",
        cells=cells,
        tokens=len(w.tokens),
        routes=len(ROUTES),
        targets=len(targets),
    )


# --- secrets never leak -------------------------------------------------------------------


def test_tokens_never_leak(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A Manager logging at debug level serves a day's worth of calls, good and bad; then
    no issued secret is anywhere in its data dir (database, WAL, engine logs) or its log, in
    SDK error text, in repr, or in Python logging."""
    data = tmp_path / "data"
    m = start_manager(data, env={"RUST_LOG": "debug"})
    try:
        p = bootstrap(m)
        scoped = m.key(p.slug, "leak")
        worker = m.cli("worker", "token", m.worker("leak-box")).stdout.strip()
        tokens = [p.sdk_token, p.key, scoped, (data / "admin_token").read_text().strip(), worker]
        texts: list[str] = []
        with caplog.at_level(logging.DEBUG):
            mgmt = ManagementClient(p.slug, base_url=m.url, sdk_token=p.sdk_token)
            texts.append(repr(mgmt))
            mgmt.ensure(spec("leak"))
            ep = DataClient(p.slug, base_url=m.url, api_key=scoped).endpoint("leak")
            texts += [repr(ep), ep.generate_text(prompt="hi", max_tokens=2).text]
            job = ep.submit_job("chat", {"messages": [{"role": "user", "content": "j"}]})
            job.wait(timeout=60)
            # Every wrong use of every token.
            for tok in tokens:
                for call in (
                    lambda t=tok: ManagementClient(
                        p.slug, base_url=m.url, sdk_token=t, max_retries=0
                    ).list(),
                    lambda t=tok: (
                        DataClient(p.slug, base_url=m.url, api_key=t, max_retries=0)
                        .endpoint("other")
                        .generate_text(prompt="x")
                    ),
                    lambda t=tok: (
                        mgmt.ensure(spec("s-" + uuid.uuid4().hex[:4], description=t))
                        if not t.startswith("ik_admin_")
                        else None
                    ),
                ):
                    try:
                        call()
                    except InferenceKeyError as e:
                        texts += [str(e), repr(e), repr(e.args)]
            # The server side of a secret in a spec: the Manager refuses it too. (Not the
            # admin token: test_admin_tokens_in_specs_are_refused, a known bug.)
            for tok in tokens[:3]:
                r = httpx.post(
                    f"{m.url}/api/projects/{p.slug}/workloads",
                    headers={"Authorization": f"Bearer {p.sdk_token}"},
                    json={"name": "x", "model_name": "m", "description": f"key {tok}"},
                )
                assert r.status_code == 400
                texts.append(r.text)
        texts.append(caplog.text)
    finally:
        stop_manager(m)
    assert stat.S_IMODE((data / "admin_token").stat().st_mode) == 0o600
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    files = [f for f in data.rglob("*") if f.is_file() and f.name != "admin_token"]
    assert any(f.name == "manager.db" for f in files)
    assert any("logs" in f.relative_to(data).parts for f in files), "engine logs were written"
    files.append(m.log)  # the Manager's own output, at debug level
    scanned = 0
    # The admin token is by design in its own 0600 file, and in nothing else.
    for tok in tokens:
        s = secret(tok)
        for f in files:
            assert s.encode() not in f.read_bytes(), f"{f} holds a secret"
            scanned += 1
        for t in texts:
            assert s not in t, t
    tally(
        "security: secrets never leak",
        secrets=len(tokens),
        files=len(files),
        file_scans=scanned,
        texts=len(texts),
        leaks=0,
    )


# --- size limits --------------------------------------------------------------------------


def test_request_body_limits(world: World) -> None:
    w = world
    sdk = next(t.raw for t in w.tokens if t.name == "sdk-A")
    live = next(t.raw for t in w.tokens if t.name == "live-A-all")
    with httpx.Client(base_url=w.m.url, timeout=60) as http:
        big = b'{"name": "' + b"x" * (1 << 20) + b'"}'
        r = http.post(
            f"/api/projects/{w.a}/workloads",
            content=big,
            headers={"Authorization": f"Bearer {sdk}", "Content-Type": "application/json"},
        )
        assert r.status_code == 413
        assert assert_error_body(r)["code"] == "payload_too_large"
        assert_documented("POST", "/api/projects/{project}/workloads", 413, r.headers, r.content)
        huge = b'{"messages": "' + b"x" * (33 << 20) + b'"}'
        r = http.post(
            f"/endpoint/{w.a}/wa1/v1/chat/completions",
            content=huge,
            headers={"Authorization": f"Bearer {live}", "Content-Type": "application/json"},
        )
        assert r.status_code == 413
        assert assert_error_body(r)["code"] == "payload_too_large"
        assert_documented(
            "POST", "/endpoint/{project}/{workload}/v1/chat/completions", 413, r.headers, r.content
        )

        def chunks() -> Iterator[bytes]:
            yield b'{"input": "'
            for _ in range(40):
                yield b"x" * (1 << 20)
            yield b'"}'

        # Without a Content-Length the limit still holds while streaming to the engine.
        r = http.post(
            f"/endpoint/{w.a}/wa1/jobs",
            content=chunks(),
            headers={"Authorization": f"Bearer {live}", "Content-Type": "application/json"},
        )
        assert r.status_code == 413
        assert assert_error_body(r)["code"] == "payload_too_large"
        assert_documented("POST", "/endpoint/{project}/{workload}/jobs", 413, r.headers, r.content)
    tally("security: size limits", oversized_requests=3, answered_413=3)


class _Hostile(http.server.BaseHTTPRequestHandler):
    """Answers every POST with an SSE stream whose one event never ends."""

    sent = 0

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        try:
            self.wfile.write(b"data: ")
            for _ in range(64):  # at most 16 MiB, then the test's server stops
                self.wfile.write(b"x" * (256 << 10))
                type(self).sent += 256 << 10
        except OSError:
            pass

    def log_message(self, *args: object) -> None:
        pass


def test_sse_event_size_limit() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        ep = DataClient("p", base_url=url, api_key="ik_live_abc_def").endpoint("w")
        with pytest.raises(ProtocolError) as exc:
            for _ in ep.generate_text_stream(prompt="x"):
                pass
        assert exc.value.code == "sse_event_too_large"
        # The client stopped reading long before the server ran out of bytes to send.
        assert _Hostile.sent < 16 << 20
    finally:
        server.shutdown()
    tally("security: size limits", sse_oversized_streams=1)


# --- binding and the command allowlist ----------------------------------------------------


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.1", "example.com"])
def test_refuses_non_loopback_without_allow_remote(tmp_path: Path, host: str) -> None:
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "inferencekey",
            "serve",
            "--host",
            host,
            "--port",
            "0",
            "--data-dir",
            str(tmp_path / "d"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode != 0
    assert "--allow-remote" in r.stderr and "loopback" in r.stderr
    assert not (tmp_path / "d" / "address").exists()
    tally("security: bind", refused_hosts=1)


def test_default_bind_is_loopback(manager: Manager) -> None:
    assert manager.url.startswith("http://127.0.0.1:")


@pytest.fixture(scope="module")
def strict_manager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Manager]:
    """A second Manager, without --allow-any-command."""
    m = start_manager(tmp_path_factory.mktemp("strict") / "data", flags=("--dev",))
    yield m
    stop_manager(m)


ESCAPES = [
    ("vllm", "python3 -m http.server"),
    ("vllm", "bash -c 'vllm serve m'"),
    ("vllm", "vllm; rm -rf /"),
    ("vllm", "env vllm serve m"),
    ("vllm", "sh"),
    ("vllm", "llama-server -m x.gguf"),
    ("sglang", "python3 -m http.server"),
    ("sglang", "python3 -c 'import os' -m sglang.launch_server"),
    ("llamacpp", "vllm serve m"),
    ("my-engine", "my-engine-server --port 1"),
    (None, "sh -c 'echo'"),
    ("ollama", "ollama serve"),
    # Debian's `sd` is a find-and-replace tool, not stable-diffusion.cpp's server.
    ("stablediffusioncpp", "sd 'root' 'toor' /tmp/some-file"),
    # The listen address is the Manager's: no placeholders, no own --host/--port.
    ("vllm", "vllm serve m --port {port}"),
    ("vllm", "vllm serve m --host 0.0.0.0"),
    ("llamacpp", "llama-server -m x.gguf --host=0.0.0.0"),
    # Remote code only with --allow-trust-remote-code.
    ("vllm", "vllm serve m --trust-remote-code"),
]


@pytest.mark.parametrize(("backend", "command"), ESCAPES)
def test_allowlist_holds_without_allow_any_command(
    strict_manager: Manager, backend: str | None, command: str
) -> None:
    p = bootstrap(strict_manager)
    body: dict[str, Any] = {
        "name": "x",
        "slug": "x",
        "model_name": "m",
        "config": {"command": command},
    }
    if backend:
        body["backend"] = backend
    auth = {"Authorization": f"Bearer {p.sdk_token}"}
    r = httpx.post(f"{strict_manager.url}/api/projects/{p.slug}/workloads", json=body, headers=auth)
    assert r.status_code == 400, r.text
    # Without a backend the create stops earlier: backend is required.
    assert assert_error_body(r)["field"] == ("config.command" if backend else "backend")
    # A PATCH cannot smuggle it in either.
    ok = httpx.post(
        f"{strict_manager.url}/api/projects/{p.slug}/workloads",
        json={
            "name": "ok",
            "backend": "vllm",
            "model_name": "m",
            "config": {"command": "vllm serve m"},
        },
        headers=auth,
    )
    assert ok.status_code == 201, ok.text
    patch = {"config": {"command": command}} | ({"backend": backend} if backend else {})
    r = httpx.patch(
        f"{strict_manager.url}/api/workloads/{ok.json()['id']}", json=patch, headers=auth
    )
    assert r.status_code == 400, r.text
    assert assert_error_body(r)["field"] == "config.command"
    tally("security: allowlist", refused_creates=1, refused_patches=1)


def test_a_model_name_is_never_a_flag(strict_manager: Manager) -> None:
    p = bootstrap(strict_manager)
    auth = {"Authorization": f"Bearer {p.sdk_token}"}
    r = httpx.post(
        f"{strict_manager.url}/api/projects/{p.slug}/workloads",
        json={"name": "x", "backend": "vllm", "model_name": "--trust-remote-code"},
        headers=auth,
    )
    assert r.status_code == 400, r.text
    assert assert_error_body(r)["field"] == "model_name"
    tally("security: allowlist", refused_flag_models=1)


def test_the_allowlist_checks_the_real_program(strict_manager: Manager, tmp_path: Path) -> None:
    """A symlink named `vllm` to a shell passes a check of the name; the Manager resolves it
    to the real file before launching, refuses it (phase `error`) and never runs it. The
    same kind of symlink to a file really named `vllm` runs."""
    p = bootstrap(strict_manager)
    mgmt = ManagementClient(p.slug, base_url=strict_manager.url, sdk_token=p.sdk_token)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "vllm").symlink_to("/bin/sh")
    marker = tmp_path / "shell-ran"
    mgmt.ensure(spec("shell", command=f"{bin_dir / 'vllm'} -c 'touch {marker}'"))
    deadline = time.monotonic() + 20
    while mgmt.get("shell")["status"] != "error" and time.monotonic() < deadline:
        time.sleep(0.05)
    w = mgmt.get("shell")
    assert w["status"] == "error", w
    assert "resolves to" in w["status_message"] and "not an allowed engine" in w["status_message"]
    assert not marker.exists()

    real_dir = tmp_path / "real"
    real_dir.mkdir()
    ran = tmp_path / "engine-ran"
    engine = real_dir / "vllm"
    engine.write_text(f"#!/bin/sh\ntouch {ran}\nexec sleep 60\n")
    engine.chmod(0o755)
    link_dir = tmp_path / "current"
    link_dir.mkdir()
    (link_dir / "vllm").symlink_to(engine)
    mgmt.ensure(spec("real", command=f"{link_dir / 'vllm'} serve {MODEL}"))
    deadline = time.monotonic() + 20
    while not ran.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ran.exists(), mgmt.get("real")
    mgmt.delete("real")
    tally("security: allowlist", symlinks_resolved=2, shells_run=0)


def test_allowlist_through_the_sdk(strict_manager: Manager) -> None:
    p = bootstrap(strict_manager)
    mgmt = ManagementClient(p.slug, base_url=strict_manager.url, sdk_token=p.sdk_token)
    with pytest.raises(ValidationError) as exc:
        mgmt.ensure(spec("sneaky", command="python3 -m http.server 8000"))
    assert exc.value.field == "config.command"
    assert "--allow-any-command" in str(exc.value)
    assert mgmt.ensure(spec("fine")).action == "created"


# --- connection handling ------------------------------------------------------------------


def _exchange(sock: Any, path: str, token: str) -> bytes:
    body = b'{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 1}'
    head = (
        f"POST {path} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    sock.sendall(head.encode())
    time.sleep(0.05)  # the body arrives after the head, as it does from real clients
    sock.sendall(body)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head_part, _, rest = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"content-length: *(\d+)", head_part, re.I).group(1))
    while len(rest) < length:
        rest += sock.recv(65536)
    return head_part


def test_gateway_error_keeps_or_closes_the_connection(world: World) -> None:
    """After an error answer, the connection either says `Connection: close` or serves the
    next request."""
    live_a = next(t.raw for t in world.tokens if t.name == "live-A-all")
    url = urlsplit(world.m.url)
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        head = _exchange(sock, f"/endpoint/{world.b}/wb/v1/chat/completions", live_a)
        assert b" 403 " in head.split(b"\r\n")[0]
        if b"connection: close" in head.lower():
            return
        second = _exchange(sock, f"/endpoint/{world.a}/wa1/v1/chat/completions", live_a)
        assert second.startswith(b"HTTP/1.1 200"), "the Manager closed a kept-alive connection"


# --- known bugs in token redaction (core: crates/inferencekey-core/src/token.rs, wire.rs) -----


def test_scrub_is_idempotent() -> None:
    once = native.scrub("key ik_live_abcdefghijk_SECRETSECRET rejected")
    assert native.scrub(once) == once


def test_manager_errors_show_the_redacted_token(manager: Manager) -> None:
    r = httpx.get(
        f"{manager.url}/api/projects/x/workloads",
        headers={"Authorization": "Bearer ik_sdk_unknown1234_" + "z" * 32},
    )
    assert r.status_code == 401
    assert "ik_sdk_unknown1…" in assert_error_body(r)["message"]


def test_scrub_glued_token() -> None:
    assert "SECRETSECRET" not in native.scrub("ik_ik_live_abc_SECRETSECRET")


def test_admin_tokens_are_scrubbed() -> None:
    assert "SECRETSECRET" not in native.scrub("token ik_admin_abc_SECRETSECRET")


def test_admin_tokens_in_specs_are_refused(manager: Manager, world: World) -> None:
    admin = (manager.data_dir / "admin_token").read_text().strip()
    sdk = next(t.raw for t in world.tokens if t.name == "sdk-A")
    r = httpx.post(
        f"{manager.url}/api/projects/{world.a}/workloads",
        headers={"Authorization": f"Bearer {sdk}"},
        json={"name": "adm", "model_name": "m", "description": f"key {admin}"},
    )
    assert r.status_code == 400


def test_error_code_is_scrubbed() -> None:
    e = native.error_from_response(
        403, b'{"error": {"code": "ik_live_abc_SECRETSECRET", "message": "m"}}'
    )
    assert "SECRETSECRET" not in str(e)


def test_error_message_never_empty() -> None:
    e = native.error_from_response(500, b'{"error": ""}')
    assert not str(e).startswith("server error:  ")
