"""Results carry the response (issue 18): the request id and headers on every result and
error, per-call ``max_retries`` and ``timeout``, and a stream folded into one final
``TextResult`` (tool calls included) — against a real Manager and engine."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from inferencekey import (
    AuthError,
    ConfigurationError,
    DataClient,
    Endpoint,
    ManagementClient,
    ServerError,
    WorkloadSpec,
)
from inferencekey.aio import AsyncDataClient

from .conftest import Project
from .test_data import FaultProxy, ensure

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup_order",
            "parameters": {"type": "object", "properties": {"input": {"type": "string"}}},
        },
    }
]
FORCE_TOOL = {"tool_choice": {"type": "function", "function": {"name": "lookup_order"}}}


@pytest.fixture
def chat(project: Project) -> Endpoint:
    slug = "resp-" + uuid.uuid4().hex[:6]
    ensure(slug)
    return DataClient.from_env().endpoint(slug, api_key=project.key)


def assert_meta(request_id: str | None, headers: dict[str, str]) -> None:
    assert request_id, "no request id"
    assert headers["x-request-id"] == request_id
    assert all(name == name.lower() for name in headers)


def test_results_carry_the_request_id_and_headers(chat: Endpoint, project: Project) -> None:
    out = chat.generate_text(prompt="Hola", max_tokens=5)
    assert_meta(out.request_id, out.headers)
    assert out.headers["content-type"].startswith("application/json")
    other = chat.generate_text(prompt="Hola", max_tokens=5)
    assert other.request_id != out.request_id

    ranked = chat.rerank("refund", ["refund policy", "pizza"], top_n=1)
    assert_meta(ranked.request_id, ranked.headers)

    slug = "resp-emb-" + uuid.uuid4().hex[:6]
    ensure(slug, task_type="embedding", model="BAAI/bge-large-en-v1.5")
    vectors = DataClient.from_env().endpoint(slug, api_key=project.key).embed(["a", "b"])
    assert_meta(vectors.request_id, vectors.headers)

    job = chat.submit_job("chat", {"messages": [{"role": "user", "content": "hi"}]})
    status = job.status()
    assert_meta(status["request_id"], status["headers"])


def test_errors_carry_the_request_id_and_headers(chat: Endpoint, project: Project) -> None:
    wrong = DataClient(project.slug).endpoint(
        chat.workload_slug, api_key="ik_live_nope_" + "x" * 24
    )
    with pytest.raises(AuthError) as exc:
        wrong.generate_text(prompt="x")
    assert_meta(exc.value.request_id, exc.value.headers)
    assert exc.value.request_id in str(exc.value)
    # A local error has no response: no headers, and never a crash reading them.
    with pytest.raises(ConfigurationError) as local:
        chat.generate_text(prompt="x", timeout=-1)
    assert local.value.headers == {} and local.value.request_id is None


def test_max_retries_per_call_overrides_the_client(chat: Endpoint, project: Project) -> None:
    p = FaultProxy(project.manager.url, failures=3)
    try:
        ep = DataClient(project.slug, base_url=p.url, max_retries=0).endpoint(
            chat.workload_slug, api_key=project.key
        )
        with pytest.raises(ServerError) as exc:
            ep.generate_text(prompt="x", max_tokens=2)
        assert p.seen == 1 and exc.value.status == 503
        assert exc.value.headers["retry-after"] == "0.05"
        # Two more injected failures, then the real answer: three retries are enough.
        out = ep.generate_text(prompt="x", max_tokens=2, max_retries=3)
        assert out.text and p.seen == 4
    finally:
        p.close()

    p = FaultProxy(project.manager.url, failures=1)
    try:
        mgmt = ManagementClient(
            project.slug, base_url=p.url, sdk_token=project.env["INFERENCEKEY_SDK_TOKEN"]
        )
        with pytest.raises(ServerError):
            mgmt.list(max_retries=0)
        assert p.seen == 1
        assert any(w.slug == chat.workload_slug for w in mgmt.list(max_retries=0))
    finally:
        p.close()


def test_a_bad_max_retries_names_the_field(chat: Endpoint, project: Project) -> None:
    with pytest.raises(ConfigurationError) as exc:
        chat.generate_text(prompt="x", max_retries=101)
    assert exc.value.field == "max_retries"
    mgmt = ManagementClient.from_env()
    with pytest.raises(ConfigurationError) as exc:
        mgmt.get(chat.workload_slug, max_retries=-1)
    assert exc.value.field == "max_retries" and "100" in str(exc.value)
    # The control-plane calls' options are the core's CallSettings: a typo is named.
    with pytest.raises(ConfigurationError) as exc:
        mgmt.list(timout=3)  # type: ignore[call-arg]
    assert exc.value.field == "timout" and "timeout" in str(exc.value)
    with pytest.raises(ConfigurationError) as exc:
        mgmt.ensure(
            WorkloadSpec(name="x", slug="x", model="m/m", backend="vllm"),
            on_drift="sometimes",
        )
    assert exc.value.field == "on_drift"


def test_a_stream_folds_into_the_final_result(chat: Endpoint) -> None:
    whole = "".join(c.text for c in chat.generate_text_stream(prompt="Tell me a story"))
    with chat.generate_text_stream(prompt="Tell me a story") as stream:
        first = ""
        while not first:
            first = next(stream).text
        final = stream.final()
    assert first and final.text == whole
    assert final.finish_reason in {"stop", "length"}
    assert final.model == "meta-llama/Llama-3.1-8B-Instruct"
    assert_meta(final.request_id, final.headers)
    assert final.headers["content-type"].startswith("text/event-stream")
    assert final.raw is None and final.message is None
    # Asked again, the same answer; iterating after the end yields nothing more.
    assert stream.final().text == whole and list(stream) == []


def test_final_rebuilds_streamed_tool_calls(chat: Endpoint) -> None:
    kwargs = {"prompt": "where is order 42", "tools": TOOLS, "extra": FORCE_TOOL}
    plain = chat.generate_text(**kwargs)  # type: ignore[arg-type]
    assert plain.message is not None
    final = chat.generate_text_stream(**kwargs).final()  # type: ignore[arg-type]
    assert final.finish_reason == "tool_calls" == plain.finish_reason
    assert final.message is not None
    assert final.message["tool_calls"] == plain.message["tool_calls"]
    call = final.message["tool_calls"][0]
    assert call["function"]["name"] == "lookup_order"
    assert "order 42" in call["function"]["arguments"]


#: The reference engine waits 20 ms between chunks: the stream is still open after one.
SLOW = "[[ik:chunk-delay:20]] long"


def test_final_on_a_stream_closed_early_is_an_error(chat: Endpoint) -> None:
    stream = chat.generate_text_stream(prompt=SLOW, max_tokens=50)
    next(stream)
    stream.close()
    with pytest.raises(ConfigurationError) as exc:
        stream.final()
    assert exc.value.code == "stream_closed"


def test_asyncio_results_and_final(chat: Endpoint, project: Project) -> None:
    async def main() -> None:
        ep = AsyncDataClient(project.slug).endpoint(chat.workload_slug, api_key=project.key)
        out = await ep.generate_text(prompt="Hola", max_tokens=5, max_retries=0)
        assert_meta(out.request_id, out.headers)
        whole = ""
        async for c in ep.generate_text_stream(prompt="Tell me a story"):
            whole += c.text
        async with ep.generate_text_stream(prompt="Tell me a story") as stream:
            async for _ in stream:
                break
            final = await stream.final()
        assert final.text == whole
        assert_meta(final.request_id, final.headers)
        # Without reading it first: final() sends the request itself.
        direct = await ep.generate_text_stream(prompt="Tell me a story").final()
        assert direct.text == whole
        closed = ep.generate_text_stream(prompt=SLOW, max_tokens=50)
        async for _ in closed:
            break
        await closed.aclose()
        with pytest.raises(ConfigurationError) as exc:
            await closed.final()
        assert exc.value.code == "stream_closed"

    asyncio.run(main())
