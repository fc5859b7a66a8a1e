"""The clients under test, each doing the same work a user's code would: send the request,
decode the answer, hand back the text (or the vectors, or each streamed chunk's text).

Every client gets the same answers from the same server. The hand-written ones (``httpx``,
``http.client``, raw socket) are written the way a careful user would write them: one
kept-alive connection, ``json.loads`` of the body, a line loop for SSE.
"""

from __future__ import annotations

import array
import asyncio
import base64
import http.client
import json
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

PROJECT = "bench"
KEY = "ik_live_benchkey_0123456789abcdefghijklmnopqrstuv"
MODEL = "bench-model"
EMBED_MODEL = "bench-embed"
PROMPT = "Hola"
MAX_TOKENS = 16
EMBED_INPUT = ["the first passage to embed", "the second passage to embed"]


@dataclass
class Routes:
    """Workload slugs nginx answers for (see nginx.conf.template)."""

    chat: str = "chat"
    embed: str = "embed"  # "embed-b64" for the base64 variant
    stream: str = "stream"


def chat_body(stream: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": MODEL,
        "messages": [{"role": "user", "content": PROMPT}],
        "max_tokens": MAX_TOKENS,
    }
    if stream:
        body["stream"] = True
    return body


def embed_body(b64: bool) -> dict[str, Any]:
    return {
        "model": EMBED_MODEL,
        "input": EMBED_INPUT,
        "encoding_format": "base64" if b64 else "float",
    }


def path(workload: str, route: str) -> str:
    return f"/endpoint/{PROJECT}/{workload}/v1/{route}"


def vectors(doc: dict[str, Any]) -> list[list[float]]:
    """The float lists of an embeddings answer, decoding base64 the way `openai` does."""
    out = []
    for item in doc["data"]:
        emb = item["embedding"]
        if isinstance(emb, str):
            emb = array.array("f", base64.b64decode(emb)).tolist()
        out.append(emb)
    return out


def chunk_text(data: bytes | str) -> str:
    choices = json.loads(data)["choices"]
    return (choices[0]["delta"].get("content") or "") if choices else ""


# ---------------------------------------------------------------------------------------
# Synchronous clients


class Ours:
    """Our SDK: ``DataClient(...).endpoint(workload)``."""

    name = "inferencekey"
    shared = True  # one client serves every thread

    def __init__(self, base_url: str, routes: Routes) -> None:
        import inferencekey

        self.routes = routes
        self.data = inferencekey.DataClient(PROJECT, base_url=base_url, api_key=KEY)
        self.chat_ep = self.data.endpoint(routes.chat)
        self.embed_ep = self.data.endpoint(routes.embed)
        self.stream_eps: dict[str, Any] = {}

    def chat(self) -> str:
        return self.chat_ep.generate_text(prompt=PROMPT, model=MODEL, max_tokens=MAX_TOKENS).text

    def embed(self) -> list[list[float]]:
        return self.embed_ep.embed(input=EMBED_INPUT, model=EMBED_MODEL).embeddings

    def stream(self, workload: str) -> Iterator[str]:
        ep = self.stream_eps.get(workload)
        if ep is None:
            ep = self.stream_eps[workload] = self.data.endpoint(workload)
        for chunk in ep.generate_text_stream(prompt=PROMPT, model=MODEL, max_tokens=MAX_TOKENS):
            yield chunk.text

    def close(self) -> None:
        self.data.close()


class OpenAISync:
    name = "openai"
    shared = True

    def __init__(self, base_url: str, routes: Routes) -> None:
        import openai

        self.routes = routes

        def make(workload: str) -> Any:
            return openai.OpenAI(
                base_url=f"{base_url}/endpoint/{PROJECT}/{workload}/v1",
                api_key=KEY,
                max_retries=0,
            )

        self.make = make
        self.chat_c = make(routes.chat)
        self.embed_c = make(routes.embed)
        self.stream_cs: dict[str, Any] = {}

    def chat(self) -> str:
        r = self.chat_c.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": PROMPT}], max_tokens=MAX_TOKENS
        )
        return r.choices[0].message.content or ""

    def embed(self) -> list[list[float]]:
        r = self.embed_c.embeddings.create(model=EMBED_MODEL, input=EMBED_INPUT)
        return [d.embedding for d in r.data]

    def stream(self, workload: str) -> Iterator[str]:
        c = self.stream_cs.get(workload)
        if c is None:
            c = self.stream_cs[workload] = self.make(workload)
        s = c.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": PROMPT}],
            max_tokens=MAX_TOKENS,
            stream=True,
        )
        with s:
            for chunk in s:
                yield (chunk.choices[0].delta.content or "") if chunk.choices else ""

    def close(self) -> None:
        self.chat_c.close()
        self.embed_c.close()
        for c in self.stream_cs.values():
            c.close()


class HttpxSync:
    name = "httpx"
    shared = True

    def __init__(self, base_url: str, routes: Routes) -> None:
        import httpx

        self.routes = routes
        self.client = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=60
        )
        self.chat_path = path(routes.chat, "chat/completions")
        self.embed_path = path(routes.embed, "embeddings")
        self.embed_b64 = routes.embed.endswith("b64")

    def chat(self) -> str:
        r = self.client.post(self.chat_path, json=chat_body())
        r.raise_for_status()
        return r.json()["choices"][0]["message"]["content"]

    def embed(self) -> list[list[float]]:
        r = self.client.post(self.embed_path, json=embed_body(self.embed_b64))
        r.raise_for_status()
        return vectors(r.json())

    def stream(self, workload: str) -> Iterator[str]:
        p = path(workload, "chat/completions")
        with self.client.stream("POST", p, json=chat_body(stream=True)) as r:
            r.raise_for_status()
            for line in r.iter_lines():
                if line.startswith("data: "):
                    data = line[6:]
                    if data == "[DONE]":
                        return
                    yield chunk_text(data)
        raise RuntimeError("stream ended without [DONE]")

    def close(self) -> None:
        self.client.close()


class HttpClient:
    """The floor: ``http.client`` on one kept-alive connection."""

    name = "http.client"
    shared = False  # not thread-safe: one per thread

    def __init__(self, base_url: str, routes: Routes) -> None:
        u = urlsplit(base_url)
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        self.headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
        self.chat_path = path(routes.chat, "chat/completions")
        self.embed_path = path(routes.embed, "embeddings")
        self.embed_b64 = routes.embed.endswith("b64")

    def _post(self, p: str, body: dict[str, Any]) -> http.client.HTTPResponse:
        self.conn.request("POST", p, body=json.dumps(body).encode(), headers=self.headers)
        r = self.conn.getresponse()
        if r.status != 200:
            raise RuntimeError(f"{p}: HTTP {r.status}")
        return r

    def chat(self) -> str:
        r = self._post(self.chat_path, chat_body())
        return json.loads(r.read())["choices"][0]["message"]["content"]

    def embed(self) -> list[list[float]]:
        r = self._post(self.embed_path, embed_body(self.embed_b64))
        return vectors(json.loads(r.read()))

    def stream(self, workload: str) -> Iterator[str]:
        r = self._post(path(workload, "chat/completions"), chat_body(stream=True))
        for line in r:
            if line.startswith(b"data: "):
                data = line[6:].rstrip(b"\r\n")
                if data == b"[DONE]":
                    r.read()  # leave the connection clean for the next request
                    return
                yield chunk_text(data)
        raise RuntimeError("stream ended without [DONE]")

    def close(self) -> None:
        self.conn.close()


class RawSocket:
    """The floor below the floor: a socket writing a pre-built request, parsing only the
    ``Content-Length`` of the answer (nginx sends static answers with one)."""

    name = "raw socket"
    shared = False

    def __init__(self, base_url: str, routes: Routes) -> None:
        u = urlsplit(base_url)
        self.host = f"{u.hostname}:{u.port}"
        self.sock = socket.create_connection((u.hostname, u.port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        b64 = routes.embed.endswith("b64")
        self.chat_req = self._build(path(routes.chat, "chat/completions"), chat_body())
        self.embed_req = self._build(path(routes.embed, "embeddings"), embed_body(b64))
        self.stream_reqs: dict[str, bytes] = {}

    def _build(self, p: str, body: dict[str, Any]) -> bytes:
        payload = json.dumps(body).encode()
        head = (
            f"POST {p} HTTP/1.1\r\nHost: {self.host}\r\nAuthorization: Bearer {KEY}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
        )
        return head.encode() + payload

    def _head(self, req: bytes) -> int:
        """Sends `req`, reads the response head; returns the Content-Length."""
        self.sock.sendall(req)
        buf = self.buf
        while True:
            end = buf.find(b"\r\n\r\n")
            if end >= 0:
                break
            data = self.sock.recv(262144)
            if not data:
                raise RuntimeError("connection closed")
            buf += data
        head = buf[:end]
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(head.split(b"\r\n", 1)[0].decode())
        i = head.lower().find(b"content-length:")
        j = head.find(b"\r\n", i)
        self.buf = buf[end + 4 :]
        return int(head[i + 15 : j if j >= 0 else None])

    def _body(self, req: bytes) -> bytes:
        n = self._head(req)
        buf = self.buf
        while len(buf) < n:
            buf += self.sock.recv(262144)
        self.buf = buf[n:]
        return buf[:n]

    def chat(self) -> str:
        return json.loads(self._body(self.chat_req))["choices"][0]["message"]["content"]

    def embed(self) -> list[list[float]]:
        return vectors(json.loads(self._body(self.embed_req)))

    def stream(self, workload: str) -> Iterator[str]:
        req = self.stream_reqs.get(workload)
        if req is None:
            req = self.stream_reqs[workload] = self._build(
                path(workload, "chat/completions"), chat_body(stream=True)
            )
        remaining = self._head(req)
        pending, self.buf = self.buf, b""
        remaining -= len(pending)
        while True:
            start = 0
            while True:
                end = pending.find(b"\n\n", start)
                if end < 0:
                    break
                line = pending[start:end]
                start = end + 2
                if line.startswith(b"data: "):
                    data = line[6:]
                    if data == b"[DONE]":
                        return
                    yield chunk_text(data)
            pending = pending[start:]
            if remaining <= 0:
                raise RuntimeError("stream ended without [DONE]")
            data = self.sock.recv(262144)
            remaining -= len(data)
            pending += data

    def close(self) -> None:
        self.sock.close()


SYNC: list[Callable[[str, Routes], Any]] = [Ours, OpenAISync, HttpxSync, HttpClient, RawSocket]

# ---------------------------------------------------------------------------------------
# asyncio clients


def ours_async_available() -> bool:
    try:
        import inferencekey.aio  # noqa: F401
    except ImportError:
        return False
    return True


class OursAsync:
    """Our asyncio API (``inferencekey.aio``), shared by every task."""

    name = "inferencekey (asyncio)"

    def __init__(self, base_url: str, routes: Routes) -> None:
        from inferencekey import aio

        self.data = aio.AsyncDataClient(PROJECT, base_url=base_url, api_key=KEY)
        self.chat_ep = self.data.endpoint(routes.chat)
        self.stream_eps: dict[str, Any] = {}

    async def stream(self, workload: str) -> int:
        """Reads one stream, handing each chunk's text to the caller; the chunk count."""
        ep = self.stream_eps.get(workload)
        if ep is None:
            ep = self.stream_eps[workload] = self.data.endpoint(workload)
        n = 0
        async for chunk in ep.generate_text_stream(
            prompt=PROMPT, model=MODEL, max_tokens=MAX_TOKENS
        ):
            _ = chunk.text
            n += 1
        return n

    async def chat(self) -> str:
        r = await self.chat_ep.generate_text(prompt=PROMPT, model=MODEL, max_tokens=MAX_TOKENS)
        return r.text

    async def aclose(self) -> None:
        close = getattr(self.data, "aclose", None) or getattr(self.data, "close", None)
        if close is not None:
            res = close()
            if asyncio.iscoroutine(res):
                await res


class OpenAIAsync:
    name = "openai (asyncio)"

    def __init__(self, base_url: str, routes: Routes) -> None:
        import openai

        self.client = openai.AsyncOpenAI(
            base_url=f"{base_url}/endpoint/{PROJECT}/{routes.chat}/v1", api_key=KEY, max_retries=0
        )

    async def chat(self) -> str:
        r = await self.client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": PROMPT}], max_tokens=MAX_TOKENS
        )
        return r.choices[0].message.content or ""

    async def aclose(self) -> None:
        await self.client.close()


class HttpxAsync:
    name = "httpx (asyncio)"

    def __init__(self, base_url: str, routes: Routes) -> None:
        import httpx

        self.client = httpx.AsyncClient(
            base_url=base_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=60
        )
        self.chat_path = path(routes.chat, "chat/completions")

    async def chat(self) -> str:
        r = await self.client.post(self.chat_path, json=chat_body())
        r.raise_for_status()
        return r.json()["choices"][0]["message"]["content"]

    async def aclose(self) -> None:
        await self.client.aclose()


class AiohttpAsync:
    """aiohttp, the asyncio HTTP client most services use: one session, its pooled
    connector, the JSON decoded by aiohttp."""

    name = "aiohttp (asyncio)"

    def __init__(self, base_url: str, routes: Routes) -> None:
        self.base_url = base_url
        self.chat_path = path(routes.chat, "chat/completions")
        self.session: Any = None

    async def chat(self) -> str:
        if self.session is None:
            # A session belongs to the running loop, so it is made on first use.
            import aiohttp

            self.session = aiohttp.ClientSession(
                base_url=self.base_url,
                headers={"Authorization": f"Bearer {KEY}"},
                connector=aiohttp.TCPConnector(limit=0),
            )
        async with self.session.post(self.chat_path, json=chat_body()) as r:
            r.raise_for_status()
            return (await r.json())["choices"][0]["message"]["content"]

    async def aclose(self) -> None:
        if self.session is not None:
            await self.session.close()


def aiohttp_available() -> bool:
    try:
        import aiohttp  # noqa: F401
    except ImportError:
        return False
    return True


class AsyncioStreams:
    """The asyncio floor: ``asyncio`` streams, one kept-alive connection per task, a pre-built
    request (tasks check a connection out of a small pool)."""

    name = "asyncio streams"

    def __init__(self, base_url: str, routes: Routes) -> None:
        u = urlsplit(base_url)
        self.addr = (u.hostname, u.port)
        payload = json.dumps(chat_body()).encode()
        self.req = (
            f"POST {path(routes.chat, 'chat/completions')} HTTP/1.1\r\nHost: {u.netloc}\r\n"
            f"Authorization: Bearer {KEY}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n"
        ).encode() + payload
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def chat(self) -> str:
        if self.idle:
            reader, writer = self.idle.pop()
        else:
            reader, writer = await asyncio.open_connection(*self.addr)
        writer.write(self.req)
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(head.split(b"\r\n", 1)[0].decode())
        i = head.lower().find(b"content-length:")
        n = int(head[i + 15 : head.find(b"\r\n", i)])
        body = await reader.readexactly(n)
        self.idle.append((reader, writer))
        return json.loads(body)["choices"][0]["message"]["content"]

    async def aclose(self) -> None:
        for _, w in self.idle:
            w.close()
        self.idle.clear()


def async_clients() -> list[Callable[[str, Routes], Any]]:
    out: list[Callable[[str, Routes], Any]] = []
    if ours_async_available():
        out.append(OursAsync)
    out += [OpenAIAsync, HttpxAsync]
    if aiohttp_available():
        out.append(AiohttpAsync)
    out.append(AsyncioStreams)
    return out
