"""The gateway's own connections to engines (issue 17): kept open between requests, never
reused once the engine closed them, never used to send a request twice, and closed when the
client leaves mid-stream so the engine stops.

The engine is `keepalive_engine.py` (a real process on loopback that keeps HTTP/1.1
connections open and logs each request with the connection it came on); requests go over
`http.client` with no retries, so a request the gateway failed shows as a failure here.
"""

from __future__ import annotations

import http.client
import json
import socket
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from inferencekey import Backend, ManagementClient, WorkloadSpec

from .conftest import HERE, MODEL, Project, tally

ENGINE = HERE / "keepalive_engine.py"


@dataclass
class Engine:
    project: Project
    slug: str
    control: Path

    @property
    def path(self) -> str:
        return f"/endpoint/{self.project.slug}/{self.slug}/v1/chat/completions"

    def log(self) -> list[dict[str, Any]]:
        path = self.control / "log.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines()]

    def requests(self) -> list[dict[str, Any]]:
        return [e for e in self.log() if "path" in e]

    def command(self, name: str) -> None:
        """Asks the engine to do `name` (see keepalive_engine.py) and waits until it did."""
        flag = self.control / name
        flag.touch()
        wait_for(lambda: not flag.exists(), f"the engine to {name}")

    def connection(self) -> http.client.HTTPConnection:
        host, port = self.project.url.removeprefix("http://").split(":")
        return http.client.HTTPConnection(host, int(port), timeout=60)

    def chat(self, **body: Any) -> tuple[int, dict[str, Any]]:
        c = self.connection()
        payload = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], **body}
        c.request("POST", self.path, json.dumps(payload), self.headers())
        r = c.getresponse()
        out = r.read()
        c.close()
        return r.status, json.loads(out) if out else {}

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.project.key}", "Content-Type": "application/json"}


def wait_for(done: Callable[[], bool], what: str, limit: float = 30.0) -> None:
    deadline = time.monotonic() + limit
    while not done():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.02)


@pytest.fixture(scope="module")
def engine(project: Project, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    control = tmp_path_factory.mktemp("keepalive-engine")
    slug = "ka-" + uuid.uuid4().hex[:6]
    command = f"{sys.executable} {ENGINE} --listen {{port}} --control {control}"
    ManagementClient(project.slug, base_url=project.url, sdk_token=project.sdk_token).ensure(
        WorkloadSpec(name=slug, slug=slug, model=MODEL, backend=Backend.VLLM, command=command)
    )
    e = Engine(project, slug, control)
    status, body = e.chat()
    assert status == 200, body
    yield e


def test_sequential_requests_share_one_engine_connection(engine: Engine) -> None:
    before = len(engine.requests())
    for _ in range(20):
        status, body = engine.chat()
        assert status == 200, body
    seen = engine.requests()[before:]
    assert len(seen) == 20
    assert len({(e["generation"], e["conn"]) for e in seen}) == 1, seen
    tally("gateway pool", requests=20)


def test_a_connection_the_engine_closed_while_idle_is_not_reused(engine: Engine) -> None:
    """The engine's keep-alive timeout closes the pooled connection: the next request goes on
    a new one, succeeds at the first try and reaches the engine once."""
    status, _ = engine.chat()
    assert status == 200
    before = engine.requests()
    engine.command("close-idle")
    status, body = engine.chat(max_tokens=2)
    assert status == 200, body
    assert body["choices"][0]["message"]["content"] == "ok ok"
    new = engine.requests()[len(before) :]
    assert len(new) == 1, new
    assert (new[0]["generation"], new[0]["conn"]) != (before[-1]["generation"], before[-1]["conn"])
    tally("gateway pool", idle_closed=1)


def test_an_engine_restarted_on_the_same_port_is_reached_again(engine: Engine) -> None:
    status, _ = engine.chat()
    assert status == 200
    before = len(engine.requests())
    engine.command("restart")
    status, body = engine.chat()
    assert status == 200, body
    assert len(engine.requests()) == before + 1
    tally("gateway pool", restarts=1)


def test_a_chunked_request_body_streams_through(engine: Engine) -> None:
    text = "x" * 200_000
    payload = json.dumps({"model": MODEL, "messages": [], "echo": text}).encode()
    parts = [payload[i : i + 16_384] for i in range(0, len(payload), 16_384)]
    c = engine.connection()
    c.request("POST", engine.path, iter(parts), engine.headers(), encode_chunked=True)
    r = c.getresponse()
    body = json.loads(r.read())
    c.close()
    assert r.status == 200, body
    assert body["echo"] == text


def test_a_client_leaving_mid_stream_closes_the_engine_connection(engine: Engine) -> None:
    """The client reads the first chunk of a long stream and goes away: the gateway closes
    its connection to the engine, whose next write fails (it stops generating)."""
    before = len(engine.log())
    host, port = engine.project.url.removeprefix("http://").split(":")
    body = json.dumps(
        {"model": MODEL, "messages": [], "stream": True, "max_tokens": 600, "delay": 0.05}
    ).encode()
    head = (
        f"POST {engine.path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Authorization: Bearer {engine.project.key}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection((host, int(port)), timeout=60) as s:
        s.sendall(head + body)
        got = b""
        while b"data:" not in got:
            data = s.recv(65536)
            assert data, got
            got += data
        assert b" 200 " in got.split(b"\r\n", 1)[0]
    # 600 chunks 50 ms apart would take 30 s; the engine notices long before.
    wait_for(
        lambda: any(e.get("event") == "client_gone" for e in engine.log()[before:]),
        "the engine to see its client gone",
        limit=25.0,
    )
    # The gateway still serves the next request.
    status, _ = engine.chat()
    assert status == 200
    tally("gateway pool", streams_cancelled=1)
