"""The SDK against a hostile server (issue 19, findings 11, 12, 17 and 20). The logic is in
the Rust core, so every binding inherits it; `bindings/go/hostile_test.go` runs the same
cases through the C ABI from Go.

Before: a 300 MiB answer cost 919 MiB RSS (a 300 MiB error body 619 MiB); 307/308 redirects
to another host were followed with the prompt re-sent; `ensure()` took `{}` for a created
workload; a 1 byte/s drip kept a call busy 45 s with `read_timeout=3` and the timeout
message said "0ns"; a 126-deep config the Manager accepted broke `list()`.
"""

from __future__ import annotations

import http.server
import json
import os
import threading
import time
from collections.abc import Iterator
from typing import Any, ClassVar

import httpx
import pytest
from integration.conftest import Manager

from inferencekey import (
    DataClient,
    InferenceKeyError,
    ManagementClient,
    ProtocolError,
    TimeoutError,
    ValidationError,
    WorkloadSpec,
)

from .conftest import MODEL, bootstrap, rss_kib, tally

KEY = "ik_live_abcdefgh12_" + "s" * 32
SDK = "ik_sdk_abcdefgh12_" + "s" * 32
MIB = 1 << 20


class Hostile(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    other: ClassVar[str] = ""
    hits: ClassVar[list[str]] = []

    def chunked(self, status: int, total: int) -> None:
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        chunk = b"[" + b"1," * (MIB // 2 - 1) + b"1]"
        try:
            for _ in range(total // len(chunk)):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass

    def answer(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def route(self) -> None:
        Hostile.hits.append(self.path)
        n = int(self.headers.get("content-length", 0))
        self.rfile.read(n)
        if "/big/" in self.path:
            return self.chunked(200, 300 * MIB)
        if "/bigerror/" in self.path:
            return self.chunked(500, 300 * MIB)
        if "/redirect/" in self.path:
            return self.answer(307, {}, {"location": f"{Hostile.other}{self.path}"})
        if "/drip/" in self.path:
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", "1000")
            self.end_headers()
            try:
                for _ in range(1000):
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(0.5)
            except OSError:
                pass
            return None
        if self.path.startswith("/api/projects/p/workloads"):
            # The list is empty, and a create "succeeds" with something that is no workload.
            return self.answer(
                201 if self.command == "POST" else 200, {} if self.command == "POST" else []
            )
        return self.answer(404, {"error": {"code": "not_found", "message": "no"}})

    do_GET = do_POST = do_PATCH = route

    def log_message(self, *args: object) -> None:
        pass


def serve(host: str) -> tuple[http.server.ThreadingHTTPServer, str]:
    server = http.server.ThreadingHTTPServer((host, 0), Hostile)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://{host}:{server.server_address[1]}"


@pytest.fixture(scope="module")
def hostile() -> Iterator[str]:
    a, url = serve("127.0.0.1")
    b, other = serve("127.0.0.2")
    Hostile.other = other
    yield url
    a.shutdown()
    b.shutdown()


def ep(url: str, workload: str, **kw: Any) -> Any:
    return DataClient("p", base_url=url, api_key=KEY, max_retries=0, **kw).endpoint(workload)


def test_a_huge_answer_is_refused_without_buffering_it(hostile: str) -> None:
    before = rss_kib(os.getpid())
    with pytest.raises(ProtocolError) as e:
        ep(hostile, "big").generate_text(prompt="x")
    assert e.value.code == "response_too_large", e.value
    grew = (rss_kib(os.getpid()) - before) / 1024
    assert grew < 150, f"RSS grew {grew:.0f} MiB for a 300 MiB answer"
    with pytest.raises(InferenceKeyError) as err:
        ep(hostile, "bigerror").generate_text(prompt="x")
    assert err.value.status == 500
    assert len(str(err.value)) < 4096
    grew = (rss_kib(os.getpid()) - before) / 1024
    assert grew < 150, f"RSS grew {grew:.0f} MiB for a 300 MiB error body"
    tally("sdk limits", answer_mib=300, error_body_mib=300, rss_growth_mib=round(grew))


def test_no_redirect_to_another_host(hostile: str) -> None:
    Hostile.hits.clear()
    with pytest.raises(ProtocolError) as e:
        ep(hostile, "redirect").generate_text(prompt="a secret prompt")
    assert e.value.code == "redirect_refused", e.value
    assert e.value.status == 307
    # Only the first server saw the request.
    assert len([h for h in Hostile.hits if "/redirect/" in h]) == 1
    tally("sdk limits", cross_host_redirects_refused=1)


def test_ensure_never_takes_a_non_workload_for_a_created_one(hostile: str) -> None:
    mgmt = ManagementClient("p", base_url=hostile, sdk_token=SDK, max_retries=0)
    with pytest.raises(ProtocolError) as e:
        mgmt.ensure(WorkloadSpec(name="w", slug="w", model=MODEL, backend="vllm"))
    assert e.value.code == "not_a_workload", e.value
    tally("sdk limits", non_workloads_refused=1)


def test_a_drip_hits_the_default_overall_deadline(hostile: str) -> None:
    started = time.monotonic()
    with pytest.raises(TimeoutError) as e:
        ep(hostile, "drip", read_timeout=1).generate_text(prompt="x")
    took = time.monotonic() - started
    assert "0ns" not in str(e.value)
    assert "default total deadline" in str(e.value), e.value
    assert took < 30, f"a 1 byte / 0.5 s drip held the call {took:.0f} s"
    tally("sdk limits", drip_stopped_after_s=round(took))


def deep(n: int) -> dict[str, Any]:
    v: dict[str, Any] = {"leaf": 1}
    for _ in range(n - 1):
        v = {"x": v}
    return v


def test_one_depth_limit_for_sdk_and_manager(manager: Manager) -> None:
    p = bootstrap(manager)
    with pytest.raises(ValidationError) as e:
        WorkloadSpec(name="d", slug="d", model=MODEL, backend="vllm", config=deep(40)).validate()
    assert e.value.field == "config"
    r = httpx.post(
        f"{manager.url}/api/projects/{p.slug}/workloads",
        json={"name": "d", "backend": "vllm", "model_name": MODEL, "config": deep(126)},
        headers={"Authorization": f"Bearer {p.sdk_token}"},
    )
    assert r.status_code == 400, r.text
    assert r.json()["error"]["field"] == "config"
    # At the limit: stored, and every read gives it back.
    mgmt = ManagementClient(p.slug, base_url=p.url, sdk_token=p.sdk_token)
    mgmt.ensure(WorkloadSpec(name="d", slug="d", model=MODEL, backend="vllm", config=deep(32)))
    assert [w["slug"] for w in mgmt.list()] == ["d"]
    assert mgmt.get("d")["config"]["x"]["x"]
    tally("sdk limits", depth_limit=32, deep_configs_refused=2)
