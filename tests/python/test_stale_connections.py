"""A keep-alive connection the server closed between two calls is not reused.

Servers close idle keep-alive connections (nginx's ``keepalive_timeout``, a load balancer's
idle timeout, the Manager's own header timeout). A client that handed such a connection to
its next call would fail that call with a connection error after any pause. The origin
here is a real HTTP server on loopback that answers one request per connection and closes
the connection only when the test says so: after the first call has returned, so the
client learns of the close while no call is running, as it would after a pause.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from inferencekey import AsyncDataClient, DataClient

ANSWER = json.dumps(
    {
        "id": "c",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "hi"},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
).encode()

KEY = "ik_live_" + "k" * 32


@dataclass
class Origin:
    """Answers each connection's first request, then holds it open until ``close_all``."""

    url: str
    listener: socket.socket
    accepted: int = 0
    held: list[socket.socket] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                self.accepted += 1
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            while len(body) < length:
                body += conn.recv(65536)
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(ANSWER)}\r\n\r\n".encode()
                + ANSWER
            )
            with self.lock:
                self.held.append(conn)

    def close_all(self) -> None:
        """Closes every connection now, as a server's idle timeout would."""
        with self.lock:
            for c in self.held:
                c.close()
            self.held.clear()


@pytest.fixture
def origin() -> Iterator[Origin]:
    listener = socket.create_server(("127.0.0.1", 0))
    o = Origin(f"http://127.0.0.1:{listener.getsockname()[1]}", listener)
    t = threading.Thread(target=o.serve, daemon=True)
    t.start()
    yield o
    listener.close()
    o.close_all()


def test_sync_call_after_the_server_closed_the_idle_connection(origin: Origin) -> None:
    ep = DataClient("p", base_url=origin.url, api_key=KEY, max_retries=0).endpoint("w")
    assert ep.generate_text(prompt="first").text == "hi"
    origin.close_all()
    assert ep.generate_text(prompt="second").text == "hi"
    assert origin.accepted == 2


def test_sync_call_after_the_close_on_another_thread(origin: Origin) -> None:
    """The same from a fresh thread each time (a thread pool): an ended thread's runtime,
    with its pooled connection, is reused by the next thread."""
    ep = DataClient("p", base_url=origin.url, api_key=KEY, max_retries=0).endpoint("w")
    texts: list[str] = []

    def call() -> None:
        texts.append(ep.generate_text(prompt="x").text)

    for _ in range(3):
        t = threading.Thread(target=call)
        t.start()
        t.join()
        origin.close_all()
    assert texts == ["hi", "hi", "hi"]


def test_asyncio_call_after_the_server_closed_the_idle_connection(origin: Origin) -> None:
    async def main() -> None:
        async with AsyncDataClient("p", base_url=origin.url, api_key=KEY, max_retries=0) as d:
            ep = d.endpoint("w")
            assert (await ep.generate_text(prompt="first")).text == "hi"
            origin.close_all()
            assert (await ep.generate_text(prompt="second")).text == "hi"
            # And without the loop having run in between: close, then call at once.
            origin.close_all()
            assert (await ep.generate_text(prompt="third")).text == "hi"

    asyncio.run(main())
    assert origin.accepted == 3
