"""A workload command: a small OpenAI-style engine that keeps HTTP/1.1 connections open and
records what reaches it, for the gateway's own connection pool (issue 17).

The Manager runs it (allowed by ``--allow-any-command``) as

    python keepalive_engine.py --listen {port} --control DIR

It is a supervisor: the server itself runs in a child process on ``{port}``, so a restart is a
real one (the old process and its sockets die, a new process listens on the same port).
The test steers it through files in DIR, each removed once done:

``close-idle``  the server closes every connection not serving a request (FIN), as an
                engine's own keep-alive timeout would
``restart``     the child is killed and a new one started on the same port

and reads ``log.jsonl``: one line per inference request (``conn``: the server's id of the
connection it came on, ``generation``: which child served it) and one per stream whose
client went away before its end (``event: client_gone``).

Routes: ``/health``, ``/v1/models`` and ``POST /v1/chat/completions`` (``stream: true``
sends ``max_tokens`` chunks ``delay`` seconds apart; request bodies may be chunked).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import http.server
import itertools
import json
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, control: Path, generation: int) -> None:
        self.control = control
        self.generation = generation
        self.lock = threading.Lock()
        self.ids = itertools.count(1)
        #: Open connections: socket -> True while it serves a request.
        self.conns: dict[socket.socket, bool] = {}
        super().__init__(("127.0.0.1", port), Handler)

    def log(self, entry: dict[str, Any]) -> None:
        entry["generation"] = self.generation
        with self.lock, (self.control / "log.jsonl").open("a") as f:
            f.write(json.dumps(entry) + "\n")

    def close_idle(self) -> None:
        with self.lock:
            idle = [s for s, busy in self.conns.items() if not busy]
        for s in idle:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Server

    def setup(self) -> None:
        super().setup()
        self.conn_id = next(self.server.ids)
        with self.server.lock:
            self.server.conns[self.connection] = False

    def finish(self) -> None:
        with self.server.lock:
            self.server.conns.pop(self.connection, None)
        super().finish()

    def busy(self, yes: bool) -> None:
        with self.server.lock:
            self.server.conns[self.connection] = yes

    def read_body(self) -> bytes:
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("content-length", 0)))

    def send_json(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self.busy(True)
        try:
            if self.path == "/health":
                self.send_json(200, {"status": "ok"})
            elif self.path == "/v1/models":
                self.send_json(200, {"object": "list", "data": [{"id": "ka", "object": "model"}]})
            else:
                self.send_json(404, {"error": {"message": f"no route {self.path}"}})
        finally:
            self.busy(False)

    def do_POST(self) -> None:
        self.busy(True)
        try:
            body = json.loads(self.read_body() or b"{}")
            self.server.log({"conn": self.conn_id, "path": self.path, "bytes": len(str(body))})
            if body.get("stream"):
                self.stream(int(body.get("max_tokens", 4)), float(body.get("delay", 0)))
            else:
                content = "ok " * int(body.get("max_tokens", 1))
                self.send_json(200, completion(content.strip(), body.get("echo")))
        finally:
            self.busy(False)

    def stream(self, n: int, delay: float) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        try:
            for i in range(n):
                if i and delay:
                    time.sleep(delay)
                self.chunk(f"data: {json.dumps(delta(f'tok{i} '))}\n\n".encode())
            self.chunk(b"data: [DONE]\n\n")
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:
            self.server.log({"conn": self.conn_id, "event": "client_gone"})
            self.close_connection = True

    def chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def log_message(self, *args: object) -> None:
        pass


def completion(content: str, echo: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-ka",
        "object": "chat.completion",
        "created": 0,
        "model": "ka",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        **({"echo": echo} if echo is not None else {}),
    }


def delta(content: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-ka",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "ka",
        "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": None}],
    }


def serve(port: int, control: Path, generation: int) -> int:
    server = Server(port, control, generation)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    flag = control / "close-idle"
    while True:
        if flag.exists():
            server.close_idle()
            flag.unlink()
        time.sleep(0.02)


def start_child(port: int, control: Path, generation: int) -> subprocess.Popen[bytes]:
    child = subprocess.Popen(
        [
            *(sys.executable, __file__, "--serve", "--listen", str(port)),
            *("--control", str(control), "--generation", str(generation)),
        ],
        preexec_fn=_die_with_parent,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and child.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.02)
    return child


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", type=int, required=True)
    ap.add_argument("--control", type=Path, required=True)
    ap.add_argument("--serve", action="store_true")
    ap.add_argument("--generation", type=int, default=1)
    a = ap.parse_args()
    a.control.mkdir(parents=True, exist_ok=True)
    if a.serve:
        return serve(a.listen, a.control, a.generation)
    generation = 1
    child = start_child(a.listen, a.control, generation)

    def stop(*_: object) -> None:
        child.kill()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    restart = a.control / "restart"
    while child.poll() is None:
        if restart.exists():
            child.kill()
            child.wait()
            generation += 1
            child = start_child(a.listen, a.control, generation)
            restart.unlink()
        time.sleep(0.02)
    return child.returncode or 1


if __name__ == "__main__":
    sys.exit(main())
