"""A loopback HTTP/1.1 fault-injection proxy.

It sits between an HTTP client and a server (SDK -> Manager, or the Manager's gateway -> an
engine) and, per request, either forwards it untouched or injects one fault:

=================  =========================================================================
``pass``           forward the request, relay the answer
``delay``          wait ``delay`` seconds, then forward
``reset``          reset the connection (RST) before the request reaches the server
``reset_after``    forward the request, wait until the server answered, then reset the client
                   connection without a byte of the answer (the server did the work; the
                   client cannot know)
``drop_mid_body``  relay the answer's head and ``after_bytes`` bytes of its body, then reset
``truncate_sse``   relay a chunked (SSE) answer until ``after_events`` events went through,
                   then end the body cleanly: a well-formed stream that lacks ``[DONE]``
``status``         answer ``status`` itself, with a JSON error body and ``Retry-After``
``blackhole``      accept the request and never answer
=================  =========================================================================

Faults come from a queue (``push``), or from a seeded random plan (``randomize``), and apply
only to requests whose path starts with one of ``paths`` (``None`` = every request), so an
engine's health checks can pass while its inference routes fail. Every request and every
injected fault is counted.

Each forwarded request is sent upstream with ``Connection: close`` and the client connection
is closed after the answer, so framing never has to be re-parsed except where a fault needs it.
"""

from __future__ import annotations

import contextlib
import json
import random
import socket
import struct
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

KINDS = (
    "pass",
    "delay",
    "reset",
    "reset_after",
    "drop_mid_body",
    "truncate_sse",
    "status",
    "blackhole",
)


@dataclass(frozen=True)
class Fault:
    kind: str = "pass"
    status: int = 503
    retry_after: str | None = "0.05"
    delay: float = 0.0
    after_bytes: int = 16
    after_events: int = 2
    code: str = "injected"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault {self.kind!r}; known: {', '.join(KINDS)}")

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @staticmethod
    def from_dict(d: dict[str, Any]) -> Fault:
        return Fault(**d)


@dataclass
class Request:
    method: str
    path: str
    raw: bytes


def _rst(conn: socket.socket) -> None:
    """Closes with a TCP reset instead of a FIN."""
    with contextlib.suppress(OSError):
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def read_request(conn: socket.socket) -> Request | None:
    """One whole request (Content-Length or chunked body), rewritten to `Connection: close`."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
        if len(data) > 1 << 20:
            return None
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    method, path = ([*lines[0].split(b" "), b"", b""])[:2]
    length = 0
    chunked = False
    kept = [lines[0]]
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        lname = name.strip().lower()
        if lname == b"content-length":
            length = int(value)
        if lname == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
        if lname not in (b"connection", b"keep-alive"):
            kept.append(line)
    if chunked:
        while not body.endswith(b"0\r\n\r\n"):
            chunk = conn.recv(65536)
            if not chunk:
                return None
            body += chunk
    else:
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            body += chunk
    raw = b"\r\n".join([*kept, b"Connection: close"]) + b"\r\n\r\n" + body
    return Request(method.decode("latin-1"), path.decode("latin-1"), raw)


def _status_answer(fault: Fault) -> bytes:
    body = json.dumps(
        {"error": {"code": fault.code, "message": f"fault proxy: injected {fault.status}"}}
    ).encode()
    reason = {429: "Too Many Requests", 502: "Bad Gateway", 503: "Service Unavailable"}.get(
        fault.status, "Error"
    )
    head = [
        f"HTTP/1.1 {fault.status} {reason}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
    ]
    if fault.retry_after is not None:
        head.append(f"Retry-After: {fault.retry_after}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


class FaultProxy:
    def __init__(
        self,
        upstream: str,
        *,
        paths: tuple[str, ...] | None = None,
        listen_port: int = 0,
        on_request: Callable[[Request, Fault], None] | None = None,
        next_fault: Callable[[Request], Fault | None] | None = None,
    ) -> None:
        host, port = upstream.removeprefix("http://").rstrip("/").rsplit(":", 1)
        self.upstream = (host, int(port))
        self.paths = paths
        self.on_request = on_request
        self.external_next = next_fault
        self.queue: deque[Fault] = deque()
        self.rng: random.Random | None = None
        self.random_p = 0.0
        self.random_kinds: list[Fault] = []
        self.lock = threading.Lock()
        self.requests = 0
        self.faults: Counter[str] = Counter()
        self.closed = threading.Event()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", listen_port))
        self.sock.listen(256)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self._accept, daemon=True).start()

    # -- planning --------------------------------------------------------------------------

    def push(self, fault: Fault, count: int = 1) -> FaultProxy:
        with self.lock:
            self.queue.extend([fault] * count)
        return self

    def randomize(self, seed: int, p: float, faults: list[Fault]) -> FaultProxy:
        """Each matching request gets a fault from `faults` with probability `p`."""
        with self.lock:
            self.rng = random.Random(seed)
            self.random_p = p
            self.random_kinds = faults
        return self

    def calm(self) -> None:
        with self.lock:
            self.queue.clear()
            self.rng = None

    @property
    def injected(self) -> int:
        return sum(n for k, n in self.faults.items() if k != "pass")

    def _choose(self, req: Request) -> Fault:
        if self.paths is not None and not req.path.startswith(self.paths):
            return Fault("pass")
        if self.external_next is not None:
            f = self.external_next(req)
            if f is not None:
                return f
        with self.lock:
            if self.queue:
                return self.queue.popleft()
            if self.rng is not None and self.rng.random() < self.random_p:
                return self.rng.choice(self.random_kinds)
        return Fault("pass")

    # -- serving ---------------------------------------------------------------------------

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        try:
            while True:
                req = read_request(conn)
                if req is None:
                    conn.close()
                    return
                fault = self._choose(req)
                with self.lock:
                    self.requests += 1
                    self.faults[fault.kind] += 1
                if self.on_request is not None:
                    self.on_request(req, fault)
                if fault.kind == "status":
                    conn.sendall(_status_answer(fault))
                    continue  # the connection stays usable: the answer is fully framed
                self._apply(conn, req, fault)
                return
        except OSError:
            conn.close()

    def _apply(self, conn: socket.socket, req: Request, fault: Fault) -> None:
        kind = fault.kind
        if kind == "reset":
            _rst(conn)
            return
        if kind == "blackhole":
            # Hold the connection until the client gives up or the proxy closes.
            conn.settimeout(0.2)
            while not self.closed.is_set():
                try:
                    if not conn.recv(65536):
                        break
                except TimeoutError:
                    continue
                except OSError:
                    break
            conn.close()
            return
        if kind == "delay":
            time.sleep(fault.delay)
        try:
            up = socket.create_connection(self.upstream, timeout=120)
        except OSError:
            _rst(conn)
            return
        with up:
            up.sendall(req.raw)
            if kind == "reset_after":
                up.recv(1)  # the server answered: it has done the work
                _rst(conn)
                return
            if kind == "drop_mid_body":
                self._relay_head_then(conn, up, fault.after_bytes)
                return
            if kind == "truncate_sse":
                self._truncate_sse(conn, up, fault.after_events)
                return
            while data := up.recv(65536):
                conn.sendall(data)
        conn.close()

    @staticmethod
    def _read_head(up: socket.socket) -> tuple[bytes, bytes]:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = up.recv(65536)
            if not chunk:
                return data, b""
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        return head + b"\r\n\r\n", rest

    def _relay_head_then(self, conn: socket.socket, up: socket.socket, n: int) -> None:
        head, body = self._read_head(up)
        conn.sendall(head)
        while len(body) < n:
            chunk = up.recv(65536)
            if not chunk:
                break
            body += chunk
        conn.sendall(body[:n])
        time.sleep(0.05)
        _rst(conn)

    def _truncate_sse(self, conn: socket.socket, up: socket.socket, events: int) -> None:
        """Relays a chunked answer chunk by chunk; after `events` SSE events, writes the
        terminating chunk and closes cleanly."""
        head, buf = self._read_head(up)
        conn.sendall(head)
        if b"chunked" not in head.lower():
            conn.sendall(buf[:64])
            conn.close()
            return
        seen = 0
        while seen < events:
            while b"\r\n" not in buf:
                chunk = up.recv(65536)
                if not chunk:
                    conn.close()
                    return
                buf += chunk
            size_line, _, buf = buf.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                break
            while len(buf) < size + 2:
                chunk = up.recv(65536)
                if not chunk:
                    conn.close()
                    return
                buf += chunk
            data, buf = buf[:size], buf[size + 2 :]
            # Keep whole events only, up to the limit, even when one chunk carries many.
            keep = 0
            while seen < events:
                end = data.find(b"\n\n", keep)
                if end < 0:
                    keep = len(data)
                    break
                keep = end + 2
                seen += 1
            if keep:
                conn.sendall(b"%x\r\n" % keep + data[:keep] + b"\r\n")
        conn.sendall(b"0\r\n\r\n")
        conn.close()

    def close(self) -> None:
        self.closed.set()
        self.sock.close()
