"""The data plane through a real Manager's gateway to a real engine process: results,
streaming, errors, retries, timeouts, Ctrl-C, jobs, and the official openai client."""

from __future__ import annotations

import builtins
import logging
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from inferencekey import (
    AuthError,
    Backend,
    ConfigurationError,
    ConnectionError,
    DataClient,
    Endpoint,
    ManagementClient,
    NotFoundError,
    PermissionDenied,
    ProtocolError,
    RateLimitError,
    ServerError,
    TimeoutError,
    ValidationError,
    WorkloadSpec,
)

from .conftest import Project


def ensure(
    slug: str, task_type: str = "text2text", model: str = "meta-llama/Llama-3.1-8B-Instruct"
) -> None:
    mgmt = ManagementClient.from_env()
    mgmt.ensure(
        WorkloadSpec(
            name=slug,
            slug=slug,
            model=model,
            backend=Backend.VLLM,
            command=f"vllm serve {model}",
            task_type=task_type,
        )
    )


@pytest.fixture
def chat(project: Project) -> Endpoint:
    slug = "chat-" + uuid.uuid4().hex[:6]
    ensure(slug)
    return DataClient.from_env().endpoint(slug, api_key=project.key)


def test_generate_text_right_after_ensure(chat: Endpoint) -> None:
    # The gateway waits for the cold start: no wait_until_ready needed.
    out = chat.generate_text(prompt="Hola", temperature=0.2, max_tokens=300)
    assert "Hola" in out.text
    assert out.model == "meta-llama/Llama-3.1-8B-Instruct"
    assert out.finish_reason in {"stop", "length"}
    assert out.usage is not None and out.usage["total_tokens"] > 0
    assert out.raw["choices"][0]["message"]["content"] == out.text
    assert repr(out).startswith('TextResult(text="Reference engine')
    assert "Some(" not in repr(out) and f'finish_reason="{out.finish_reason}"' in repr(out)
    again = chat.generate_text(prompt="Hola", temperature=0.2, max_tokens=300)
    assert again.text == out.text  # the reference engine is deterministic


def test_messages_and_options(chat: Endpoint) -> None:
    out = chat.generate_text(
        messages=[
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "ping pong"},
        ],
        max_tokens=5,
        seed=7,
        top_p=0.9,
        extra={"user": "test"},
    )
    assert len(out.text.split()) == 5
    assert out.finish_reason == "length"
    with pytest.raises(ValidationError) as exc:
        chat.generate_text(prompt="a", messages=[{"role": "user", "content": "b"}])
    assert exc.value.field == "prompt"
    with pytest.raises(ValidationError):
        chat.generate_text()


def test_streaming(chat: Endpoint) -> None:
    with chat.generate_text_stream(prompt="stream me", max_tokens=50) as stream:
        chunks = list(stream)
    text = "".join(c.text for c in chunks)
    assert len(text.split()) == 50
    assert [c.finish_reason for c in chunks if c.finish_reason] == ["length"]
    whole = chat.generate_text(prompt="stream me", max_tokens=50)
    assert text == whole.text


def test_stream_close_stops_early(chat: Endpoint) -> None:
    stream = chat.generate_text_stream(prompt="long", max_tokens=100_000)
    first = next(stream)
    assert first is not None
    stream.close()
    assert list(stream) == []
    # The connection was released: the endpoint keeps working.
    assert chat.generate_text(prompt="after", max_tokens=3).text


def test_stream_truncation_is_an_error(chat: Endpoint) -> None:
    got: list[str] = []
    with pytest.raises(ProtocolError) as exc:
        for chunk in chat.generate_text_stream(prompt="[[ik:truncate]] cut me"):
            got.append(chunk.text)
    assert exc.value.code == "stream_truncated"
    assert got  # what arrived was delivered before the error


def test_in_band_stream_error(chat: Endpoint) -> None:
    with pytest.raises(ServerError) as exc:
        for _ in chat.generate_text_stream(prompt="[[ik:error]] fail me"):
            pass
    assert "stream failed" in str(exc.value)


def test_embeddings_ordered(project: Project) -> None:
    slug = "emb-" + uuid.uuid4().hex[:6]
    ensure(slug, task_type="embedding", model="BAAI/bge-large-en-v1.5")
    ep = DataClient.from_env().endpoint(slug, api_key=project.key)
    emb = ep.embed(input=["invoice #42", "refund policy"])
    assert len(emb.embeddings) == 2 and len(emb) == 2
    assert all(len(v) == len(emb.embeddings[0]) > 0 for v in emb.embeddings)
    single = ep.embed(input="refund policy")
    assert single.embeddings[0] == pytest.approx(emb.embeddings[1], rel=1e-6)
    assert emb.model == "BAAI/bge-large-en-v1.5"
    floats = ep.embed(input=["a"], extra={"encoding_format": "float"})
    assert len(floats.embeddings[0]) == len(emb.embeddings[0])


def test_rerank_on_a_reranker_sync_and_as_a_job(project: Project) -> None:
    slug = "rr-" + uuid.uuid4().hex[:6]
    ensure(slug, task_type="reranker", model="BAAI/bge-reranker-v2-m3")
    ep = DataClient.from_env().endpoint(slug, api_key=project.key)
    # The public SDK's reranker example: rerank() on a reranker workload, POST /v1/rerank.
    ranked = ep.rerank("refund policy", ["pizza", "our refund policy"], top_n=1)
    assert [r["index"] for r in ranked.results] == [1]
    # Its other sync routes are refused, naming the ones that serve it.
    with pytest.raises(ValidationError) as exc:
        ep.generate_text(prompt="hi")
    assert exc.value.field == "task_type"
    assert "/v1/rerank" in str(exc.value) and "/jobs" in str(exc.value)
    job = ep.submit_job(
        "rerank", {"query": "refund policy", "documents": ["refund policy", "pizza"], "top_n": 2}
    )
    done = job.wait(timeout=60)
    assert done["status"] == "succeeded", done
    assert done["result"]["results"][0]["index"] == 0


def test_rerank_sync_on_a_text_workload(chat: Endpoint) -> None:
    out = chat.rerank("refund policy", ["pizza recipe", "our refund policy", "refund"], top_n=2)
    assert len(out.results) == 2
    scores = [r["relevance_score"] for r in out.results]
    assert scores == sorted(scores, reverse=True)


def test_jobs(chat: Endpoint) -> None:
    job = chat.submit_job(
        "chat", {"messages": [{"role": "user", "content": "job"}]}, context={"ticket": 7}
    )
    status = job.wait(timeout=60)
    assert status["status"] == "succeeded"
    assert "job" in status["result"]["choices"][0]["message"]["content"]
    with pytest.raises(ValidationError) as exc:
        chat.submit_job("teleport", {})
    assert "chat" in str(exc.value)


def test_binary_job_with_data_bytes(chat: Endpoint) -> None:
    # `data=` is the binary payload (multipart here), sent as the core JobRequest's body_b64.
    boundary = "ikboundary"
    form = (
        (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="file"; filename="a.wav"\r\n'
            "Content-Type: audio/wav\r\n\r\n"
        ).encode()
        + b"RIFF\x00\x01"
        + f"\r\n--{boundary}--\r\n".encode()
    )
    job = chat.submit_job(
        "audio_transcriptions",
        data=form,
        content_type=f"multipart/form-data; boundary={boundary}",
        context={"call": 1},
        max_retries=0,
    )
    done = job.wait(timeout=60)
    assert done["status"] == "succeeded", done
    assert "heard" in str(done["result"])
    # Job options are the core's JobRequest fields: a misspelt one is named, and so is a
    # payload that is not bytes.
    with pytest.raises(ValidationError) as exc:
        chat.submit_job("chat", {"messages": []}, contxt={})  # type: ignore[call-arg]
    assert exc.value.field == "contxt" and "context" in str(exc.value)
    with pytest.raises(ValidationError) as exc:
        chat.submit_job("audio_transcriptions", data="not bytes", content_type="audio/wav")  # type: ignore[arg-type]
    assert exc.value.field == "data"
    with pytest.raises(ConfigurationError) as conf:
        chat.submit_job("chat", {"messages": []}, max_retries=1000)
    assert conf.value.field == "max_retries"


def test_data_errors(project: Project, chat: Endpoint) -> None:
    data = DataClient.from_env()
    with pytest.raises(AuthError) as auth:
        data.endpoint(chat.workload_slug, api_key="ik_live_unknown0000_nosecret").generate_text(
            prompt="x"
        )
    assert auth.value.status == 401 and auth.value.request_id
    other = "other-" + uuid.uuid4().hex[:6]
    ensure(other)
    scoped = project.manager.key(project.slug, chat.workload_slug)
    with pytest.raises(PermissionDenied) as denied:
        data.endpoint(other, api_key=scoped).generate_text(prompt="x")
    assert denied.value.code == "scope_insufficient"
    with pytest.raises(NotFoundError):
        data.endpoint("does-not-exist", api_key=project.key).generate_text(prompt="x")
    with pytest.raises(ServerError) as server:
        chat.generate_text(prompt="[[ik:status:500]]")
    assert server.value.status == 500
    with pytest.raises(RateLimitError) as limited:
        DataClient.from_env(max_retries=0).endpoint(
            chat.workload_slug, api_key=project.key
        ).generate_text(prompt="[[ik:status:429]]")
    assert limited.value.retry_after is not None
    with pytest.raises(ConfigurationError) as missing:
        data.endpoint(chat.workload_slug)
    assert "INFERENCEKEY_API_KEY" in str(missing.value)


def test_revoked_key_is_refused_at_once(project: Project, chat: Endpoint) -> None:
    key = project.manager.key(project.slug, chat.workload_slug)
    ep = DataClient.from_env().endpoint(chat.workload_slug, api_key=key)
    assert ep.generate_text(prompt="ok", max_tokens=2).text
    key_id = key.split("_")[2]
    project.manager.cli("key", "revoke", key_id)
    with pytest.raises(AuthError):
        ep.generate_text(prompt="ok", max_tokens=2)


def test_timeout(chat: Endpoint) -> None:
    start = time.monotonic()
    with pytest.raises(TimeoutError) as exc:
        chat.generate_text(prompt="[[ik:slow:5000]]", timeout=0.3)
    assert time.monotonic() - start < 3
    assert isinstance(exc.value, builtins.TimeoutError)


def test_stream_idle_timeout_ignores_keepalives(project: Project, chat: Endpoint) -> None:
    ep = DataClient.from_env(read_timeout=0.5).endpoint(chat.workload_slug, api_key=project.key)
    with pytest.raises(TimeoutError):
        for _ in ep.generate_text_stream(prompt="[[ik:keepalive:5000]]"):
            pass


def test_connection_error(project: Project) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ep = DataClient(project.slug, base_url=f"http://127.0.0.1:{port}", max_retries=1).endpoint(
        "x", api_key=project.key
    )
    with pytest.raises(ConnectionError) as exc:
        ep.generate_text(prompt="x")
    assert isinstance(exc.value, builtins.ConnectionError)


def test_ctrl_c_interrupts_a_blocking_call(chat: Endpoint) -> None:
    timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT))
    start = time.monotonic()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        chat.generate_text(prompt="[[ik:slow:10000]]")
    assert time.monotonic() - start < 5
    assert chat.generate_text(prompt="still works", max_tokens=2).text


def test_threads_share_one_endpoint(chat: Endpoint) -> None:
    errors: list[BaseException] = []
    texts: list[str] = []

    def run() -> None:
        try:
            for _ in range(10):
                texts.append(chat.generate_text(prompt="t", max_tokens=3).text)
        except BaseException as e:  # collected and asserted below
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(texts) == 160 and len(set(texts)) == 1


class FaultProxy:
    """A loopback proxy that answers the first `failures` requests with 503 + Retry-After and
    forwards the rest to the Manager byte for byte."""

    def __init__(self, upstream: str, failures: int) -> None:
        host, port = upstream.removeprefix("http://").split(":")
        self.upstream = (host, int(port))
        self.failures = failures
        self.seen = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()

    def handle(self, conn: socket.socket) -> None:
        with conn:
            while True:
                request = self.read_request(conn)
                if request is None:
                    return
                self.seen += 1
                if self.seen <= self.failures:
                    body = b'{"error":{"code":"workload_not_ready","message":"injected"}}'
                    conn.sendall(
                        b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 0.05\r\n"
                        b"Content-Type: application/json\r\nContent-Length: "
                        + str(len(body)).encode()
                        + b"\r\n\r\n"
                        + body
                    )
                    continue
                with socket.create_connection(self.upstream) as up:
                    up.sendall(request)
                    while data := up.recv(65536):
                        conn.sendall(data)
                return

    @staticmethod
    def read_request(conn: socket.socket) -> bytes | None:
        """One whole request, rewritten to `Connection: close` so the upstream ends it."""
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        length = 0
        kept = [lines[0]]
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
            if name.strip().lower() != b"connection":
                kept.append(line)
        while len(body) < length:
            body += conn.recv(65536)
        return b"\r\n".join([*kept, b"Connection: close"]) + b"\r\n\r\n" + body

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def proxy(project: Project) -> Iterator[FaultProxy]:
    p = FaultProxy(project.manager.url, failures=2)
    yield p
    p.close()


def test_retries_on_503_with_retry_after(
    project: Project, chat: Endpoint, proxy: FaultProxy, caplog: pytest.LogCaptureFixture
) -> None:
    ep = DataClient(project.slug, base_url=proxy.url).endpoint(
        chat.workload_slug, api_key=project.key
    )
    with caplog.at_level(logging.DEBUG, logger="inferencekey"):
        out = ep.generate_text(prompt="retry me", max_tokens=3)
    assert out.text
    assert proxy.seen == 3
    retries = [
        r for r in caplog.records if r.name == "inferencekey" and "retrying" in r.getMessage()
    ]
    assert len(retries) == 2
    assert project.key not in caplog.text


def test_retries_give_up_with_the_last_error(project: Project, chat: Endpoint) -> None:
    p = FaultProxy(project.manager.url, failures=10)
    try:
        ep = DataClient(project.slug, base_url=p.url, max_retries=2).endpoint(
            chat.workload_slug, api_key=project.key
        )
        with pytest.raises(ServerError) as exc:
            ep.generate_text(prompt="x")
        assert exc.value.status == 503 and exc.value.code == "workload_not_ready"
        assert p.seen == 3
    finally:
        p.close()


def test_openai_client_works_against_the_endpoint(chat: Endpoint, project: Project) -> None:
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=chat.base_url, api_key=chat.api_key, max_retries=0)
    out = client.chat.completions.create(
        model="meta-llama/Llama-3.1-8B-Instruct", messages=[{"role": "user", "content": "Hola"}]
    )
    assert "Hola" in (out.choices[0].message.content or "")
    parts = [
        c.choices[0].delta.content or ""
        for c in client.chat.completions.create(
            model="meta-llama/Llama-3.1-8B-Instruct",
            messages=[{"role": "user", "content": "Hola"}],
            stream=True,
        )
        if c.choices
    ]
    assert "".join(parts) == out.choices[0].message.content
    emb = client.embeddings.create(model="meta-llama/Llama-3.1-8B-Instruct", input=["a", "b"])
    assert len(emb.data) == 2 and len(emb.data[0].embedding) > 0
