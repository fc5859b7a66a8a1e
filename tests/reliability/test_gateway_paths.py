"""The gateway keeps requests inside the workload's route (issue 19, findings 5 and 14).

Before: `v1/..%2F..%2Fadmin` reached the engine as `/v1/../../admin`, `%3F` became a query,
and tenants sharing one Ollama daemon listed and used each other's models (`v1/../api/delete`
was forwarded too). Requests here go over a raw socket (http.client does not normalise
paths), and the Ollama daemon is a small local HTTP server speaking its routes, which records
what reaches it.
"""

from __future__ import annotations

import http.client
import http.server
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from integration.conftest import Manager

from inferencekey import Backend, DataClient, ManagementClient, WorkloadSpec

from .conftest import MODEL, Project, bootstrap, start_manager, stop_manager, tally


def raw_get(m: Manager, path: str, key: str) -> tuple[int, dict[str, Any]]:
    host, port = m.url.removeprefix("http://").split(":")
    c = http.client.HTTPConnection(host, int(port), timeout=30)
    c.putrequest("GET", path, skip_accept_encoding=True)
    c.putheader("Authorization", f"Bearer {key}")
    c.endheaders()
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, json.loads(body) if body else {}


@pytest.fixture(scope="module")
def served(manager: Manager) -> Project:
    p = bootstrap(manager)
    ManagementClient(p.slug, base_url=p.url, sdk_token=p.sdk_token).ensure(
        WorkloadSpec(name="w", slug="w", model=MODEL, backend=Backend.VLLM)
    )
    DataClient(p.slug, base_url=p.url, api_key=p.key).endpoint("w").generate_text(
        prompt="warm", max_tokens=1
    )
    return p


@pytest.mark.parametrize(
    "rest",
    [
        "v1/..%2F..%2Fadmin",
        "v1/../../admin",
        "v1/%2e%2e/%2e%2e/admin",
        "v1/models%3Fsecret=1",
        "v1/models%23frag",
        "v1//models",
        "v1/..%5c..%5cadmin",
    ],
)
def test_paths_that_leave_the_route_are_refused(
    manager: Manager, served: Project, rest: str
) -> None:
    status, body = raw_get(manager, f"/endpoint/{served.slug}/w/{rest}", served.key)
    assert status == 400, body
    assert body["error"]["code"] == "validation_failed"
    tally("gateway paths", refused=1)


def test_ordinary_paths_still_reach_the_engine(manager: Manager, served: Project) -> None:
    status, body = raw_get(manager, f"/endpoint/{served.slug}/w/v1/models", served.key)
    assert status == 200, body
    assert body["data"]
    tally("gateway paths", forwarded=1)


class FakeOllama(http.server.BaseHTTPRequestHandler):
    """Ollama's routes, answering for every model it holds, as the real daemon does."""

    models: ClassVar[list[str]] = ["tenant-a:1", "tenant-b:1"]
    seen: ClassVar[list[tuple[str, str, Any]]] = []

    def reply(self, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        FakeOllama.seen.append(("GET", self.path, None))
        if self.path == "/api/version":
            return self.reply({"version": "0.0.0-test"})
        if self.path in ("/v1/models", "/api/tags"):
            return self.reply({"data": [{"id": m} for m in self.models]})
        self.reply({})

    def do_POST(self) -> None:
        n = int(self.headers.get("content-length", 0))
        body = json.loads(self.rfile.read(n) or b"{}")
        FakeOllama.seen.append(("POST", self.path, body))
        if self.path == "/api/pull":
            return self.reply({"status": "success"})
        self.reply(
            {
                "id": "x",
                "object": "chat.completion",
                "created": 0,
                "model": body.get("model"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": f"from {body.get('model')}"},
                        "finish_reason": "stop",
                    }
                ],
            }
        )

    do_DELETE = do_POST

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def ollama() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), FakeOllama)
    FakeOllama.seen = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield port
    server.shutdown()


def test_tenants_sharing_ollama_see_and_use_only_their_model(tmp_path: Path, ollama: int) -> None:
    m = start_manager(tmp_path / "data", flags=(), env={"OLLAMA_HOST": f"127.0.0.1:{ollama}"})
    try:
        a = bootstrap(m)
        ManagementClient(a.slug, base_url=m.url, sdk_token=a.sdk_token).ensure(
            WorkloadSpec(name="chat", slug="chat", model="tenant-a:1", backend=Backend.OLLAMA)
        )
        deadline = time.monotonic() + 20
        status, body = 0, {}
        while time.monotonic() < deadline:
            status, body = raw_get(m, f"/endpoint/{a.slug}/chat/v1/models", a.key)
            if status == 200:
                break
            time.sleep(0.1)
        assert status == 200, body
        assert [x["id"] for x in body["data"]] == ["tenant-a:1"]
        # Asking for the other tenant's model gets this workload's.
        ep = DataClient(a.slug, base_url=m.url, api_key=a.key).endpoint("chat")
        out = ep.generate_text(prompt="hi", model="tenant-b:1")
        assert "from tenant-a:1" in out.text
        chats = [b for (verb, path, b) in FakeOllama.seen if path == "/v1/chat/completions"]
        assert chats and all(b["model"] == "tenant-a:1" for b in chats)
        # The daemon's own API is not reachable through the gateway.
        for rest in ("v1/../api/delete", "api/tags", "v1/api/pull"):
            status, _ = raw_get(m, f"/endpoint/{a.slug}/chat/{rest}", a.key)
            assert status in (400, 404), rest
        assert not [p for (_, p, _) in FakeOllama.seen if p in ("/api/delete", "/api/tags")]
    finally:
        stop_manager(m)
    tally("gateway paths", ollama_models_pinned=1, ollama_api_refused=3)
