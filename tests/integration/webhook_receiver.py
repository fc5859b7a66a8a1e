"""A real webhook receiver on 127.0.0.1 for the delivery tests: it records every POST (raw
body and headers) and answers each path from a script of statuses (the last one repeats).
The status ``HANG`` holds the request open until ``release()`` (a slow receiver)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int

    @property
    def json(self) -> Any:
        return json.loads(self.body)


#: A scripted status that holds the request open until `Receiver.release()`, then answers 200.
HANG = -1


class Receiver:
    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        self.hanging = 0
        self._released = threading.Event()
        self._script: dict[str, list[int]] = {}
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._lock:
                    script = receiver._script.setdefault(self.path, [200])
                    status = script.pop(0) if len(script) > 1 else script[0]
                if status == HANG:
                    with receiver._lock:
                        receiver.hanging += 1
                    receiver._released.wait(timeout=120)
                    status = 200
                with receiver._lock:
                    receiver.deliveries.append(
                        Delivery(
                            self.path, {k.lower(): v for k, v in self.headers.items()}, body, status
                        )
                    )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{path}"

    def script(self, path: str, *statuses: int) -> None:
        """Answer `path` with these statuses in turn, the last one from then on."""
        with self._lock:
            self._script[path] = list(statuses)

    def at(self, path: str) -> list[Delivery]:
        with self._lock:
            return [d for d in self.deliveries if d.path == path]

    def wait_for(self, path: str, count: int, timeout: float = 60) -> list[Delivery]:
        """The first `count` deliveries to `path`, waiting for them (polling, no timing
        assertion: the timeout only bounds a hung test)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.at(path)
            if len(got) >= count:
                return got
            time.sleep(0.05)
        raise AssertionError(f"{path}: {len(self.at(path))} deliveries, expected {count}")

    def release(self) -> None:
        """Lets every hanging request (and later ones) answer."""
        self._released.set()

    def close(self) -> None:
        self._released.set()
        self._server.shutdown()
        self._server.server_close()
