"""The custom backend runtime contract (docs/contract.md §7), against the real runtime server
on loopback: every status it documents, with a backend written as a user writes one."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from inferencekey.custom_backend import (
    MAX_BODY_BYTES,
    CustomBackend,
    load_entrypoint,
    make_server,
    start_setup,
)


class Upper(CustomBackend):
    """Upper-cases ``text``; refuses a missing one (400); fails on ``boom`` (500)."""

    def __init__(self, manifest: dict[str, Any] | None = None) -> None:
        super().__init__(manifest)
        self.gate = threading.Event()

    def setup(self) -> None:
        # Held until the test lets it finish, so "before ready" is a state, not a race.
        self.gate.wait(30)

    def process(self, input: dict[str, Any]) -> dict[str, Any]:
        if input.get("text") == "boom":
            raise RuntimeError("the model fell over")
        if not isinstance(input.get("text"), str):
            raise ValueError("text: a string is required")
        return {"text": input["text"].upper()}


class Forecaster(Upper):
    def forecast(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"forecast": {"median": [1.0] * int(body["horizon"])}}


def call(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read() or b"null")
    finally:
        conn.close()


def post(port: int, path: str, obj: Any) -> tuple[int, Any]:
    return call(port, "POST", path, json.dumps(obj).encode(), {"Content-Type": "application/json"})


@dataclass
class Served:
    port: int
    backend: Upper
    server: Any

    def ready(self) -> None:
        """Runs setup() to the end; /healthz then answers 200."""
        setup = start_setup(self.server)
        self.backend.gate.set()
        setup.join(30)
        assert call(self.port, "GET", "/healthz") == (200, {"status": "ok"})


@pytest.fixture
def served() -> Iterator[Served]:
    backend = Upper({"name": "upper", "slug": "upper"})
    server = make_server(backend)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield Served(server.server_address[1], backend, server)
    finally:
        backend.gate.set()
        server.shutdown()
        server.server_close()


def test_statuses_before_and_after_setup(served: Served) -> None:
    port = served.port
    # setup() has not even started: loading, and jobs are refused until it ends.
    assert call(port, "GET", "/healthz") == (503, {"status": "loading"})
    assert call(port, "GET", "/meta") == (200, {"name": "upper", "slug": "upper"})
    status, body = post(port, "/process", {"id": "j1", "input": {"text": "hi"}})
    assert status == 503 and "loading" in body["error"], body
    served.ready()
    assert post(port, "/process", {"id": "j1", "input": {"text": "hi"}}) == (
        200,
        {"output": {"text": "HI"}},
    )


def test_bad_bodies_and_inputs_are_400_and_failures_500(served: Served) -> None:
    port = served.port
    served.ready()
    cases: list[tuple[Any, str]] = [
        ({"input": {"text": "x"}}, "id"),
        ({"id": "", "input": {"text": "x"}}, "id"),
        ({"id": "j", "input": "text"}, "input"),
        ({"id": "j", "input": {}, "extra": 1}, "extra"),
        ([1, 2], "object"),
        ({"id": "j", "input": {"text": 3}}, "text"),  # ValueError from process()
    ]
    for body, word in cases:
        status, answer = post(port, "/process", body)
        assert status == 400, (body, answer)
        assert word in answer["error"], (body, answer)
    status, answer = call(
        port, "POST", "/process", b"{not json", {"Content-Type": "application/json"}
    )
    assert status == 400 and "not JSON" in answer["error"], answer
    status, answer = post(port, "/process", {"id": "j", "input": {"text": "boom"}})
    assert status == 500 and "RuntimeError: the model fell over" in answer["error"], answer


def test_forecast_is_501_unless_overridden(served: Served) -> None:
    port = served.port
    served.ready()
    status, answer = post(port, "/forecast", {"id": "f", "target": [1, 2], "horizon": 2})
    assert status == 501 and "forecast" in answer["error"], answer

    fb = Forecaster()
    fb.gate.set()
    server = make_server(fb)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        start_setup(server).join(30)
        p = server.server_address[1]
        assert post(p, "/forecast", {"id": "f", "target": [1, 2], "horizon": 2}) == (
            200,
            {"forecast": {"median": [1.0, 1.0]}},
        )
    finally:
        server.shutdown()
        server.server_close()


def test_bodies_over_16_mib_are_413_and_unknown_routes_404(served: Served) -> None:
    port = served.port
    served.ready()
    # The declared length alone is refused: the body is never read.
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.putrequest("POST", "/process")
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Content-Length", str(MAX_BODY_BYTES + 1))
    conn.endheaders()
    resp = conn.getresponse()
    assert resp.status == 413
    assert "limit" in json.loads(resp.read())["error"]
    conn.close()
    assert call(port, "GET", "/nope")[0] == 404
    assert post(port, "/nope", {})[0] == 404


def test_entrypoints_are_checked() -> None:
    assert load_entrypoint("inferencekey.custom_backend:CustomBackend") is CustomBackend
    for bad, word in [
        ("nocolon", "module:Class"),
        ("json:loads", "not a subclass"),
        ("json:NoSuchThing", "has no"),
    ]:
        with pytest.raises(ValueError, match=word):
            load_entrypoint(bad)


def test_the_cli_serves_a_user_module(tmp_path: Path) -> None:
    """`python -m inferencekey.custom_backend serve` as the Manager runs it: a module on
    PYTHONPATH, the manifest served on /meta, a setup that fails ends the process."""
    (tmp_path / "echo_mod.py").write_text(
        "from inferencekey.custom_backend import CustomBackend\n"
        "class Echo(CustomBackend):\n"
        "    def process(self, input):\n"
        "        return {'echo': input}\n"
        "class Broken(CustomBackend):\n"
        "    def setup(self):\n"
        "        raise OSError('weights missing')\n"
    )
    (tmp_path / "manifest.json").write_text(json.dumps({"name": "echo"}))
    import os
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "inferencekey.custom_backend",
            "serve",
            "--entrypoint",
            "echo_mod:Echo",
            "--port",
            str(port),
            "--manifest",
            str(tmp_path / "manifest.json"),
        ],
        env=env,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if call(port, "GET", "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the runtime never became healthy"
            time.sleep(0.05)
        assert call(port, "GET", "/meta") == (200, {"name": "echo"})
        assert post(port, "/process", {"id": "1", "input": {"a": 1}}) == (
            200,
            {"output": {"echo": {"a": 1}}},
        )
    finally:
        proc.terminate()
        proc.wait(10)
    broken = subprocess.run(
        [
            sys.executable,
            "-m",
            "inferencekey.custom_backend",
            "serve",
            "--entrypoint",
            "echo_mod:Broken",
            "--port",
            "0",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert broken.returncode == 1
    assert "setup() failed: OSError: weights missing" in broken.stderr
