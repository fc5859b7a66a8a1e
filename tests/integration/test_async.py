"""The asyncio API against a real Manager: every async method, 200 concurrent calls on one
client, cancellation mid-request and mid-stream (the connection is closed, checked in the
kernel's socket table at both ends), timeouts, uvloop, a clean interpreter exit, and the
seed examples rewritten with ``await``.

Each test runs its own event loop with ``asyncio.run`` (no plugin needed). Workloads run the
reference engine: the session's Manager is started with ``--dev``, so a ``vllm serve …``
command falls back to it on a machine without vLLM.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import threading
import uuid
import warnings
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest

import inferencekey
from inferencekey import (
    AsyncDataClient,
    AsyncEndpoint,
    AsyncJob,
    AsyncManagementClient,
    AsyncTextStream,
    AuthError,
    Backend,
    DriftWarning,
    EmbedResult,
    EndpointRef,
    ExecutionPolicy,
    NotFoundError,
    OnDrift,
    PermissionDenied,
    ProtocolError,
    RerankResult,
    ServerError,
    TextChunk,
    TextResult,
    ValidationError,
    WorkloadSpec,
)

from .conftest import Project

SLOW_REQUEST = "[[ik:slow:3000]] tell me something"


def slug() -> str:
    return "w-" + uuid.uuid4().hex[:8]


def chat_spec(s: str, **overrides: Any) -> WorkloadSpec:
    fields: dict[str, Any] = dict(
        name="Support bot",
        slug=s,
        model="meta-llama/Llama-3.1-8B-Instruct",
        backend=Backend.VLLM,
        command="vllm serve meta-llama/Llama-3.1-8B-Instruct --max-model-len 8192",
    )
    fields.update(overrides)
    return WorkloadSpec(**fields)


def embed_spec(s: str) -> WorkloadSpec:
    return WorkloadSpec(
        name="Billing embeddings",
        slug=s,
        model="BAAI/bge-large-en-v1.5",
        backend=Backend.VLLM,
        task_type="embedding",
        command="vllm serve BAAI/bge-large-en-v1.5 --task embed",
    )


async def ready_chat(project: Project, **client_kwargs: Any) -> AsyncEndpoint:
    """A ready chat workload and an endpoint on a fresh client."""
    s = slug()
    mgmt = AsyncManagementClient.from_env()
    await mgmt.ensure(chat_spec(s))
    await mgmt.wait_until_ready(s, timeout=60, progress=False)
    return AsyncDataClient.from_env(api_key=project.key, **client_kwargs).endpoint(s)


# ---------------------------------------------------------------------------------------
# Sockets, read from the kernel's table: which connections to the Manager are open.

ESTABLISHED, CLOSE_WAIT = 0x01, 0x08


def _tcp_table() -> list[tuple[int, int, int, int]]:
    """``(local_port, remote_port, state, inode)`` of every TCP socket on this machine."""
    rows = []
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                lines = f.read().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.split()
            local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
            rows.append(
                (
                    int(local.rsplit(":", 1)[1], 16),
                    int(remote.rsplit(":", 1)[1], 16),
                    int(state, 16),
                    int(inode),
                )
            )
    return rows


def _own_socket_inodes() -> set[int]:
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def manager_port(project: Project) -> int:
    port = urlsplit(project.manager.url).port
    assert port is not None
    return port


def our_connections(port: int) -> set[int]:
    """Local ports of this process's open connections to the Manager."""
    mine = _own_socket_inodes()
    return {
        local
        for local, remote, state, inode in _tcp_table()
        if remote == port and inode in mine and state in (ESTABLISHED, CLOSE_WAIT)
    }


def manager_holds(port: int, peer: int) -> bool:
    """Whether the Manager still has its end of the connection from ``peer`` open."""
    return any(
        local == port and remote == peer and state in (ESTABLISHED, CLOSE_WAIT)
        for local, remote, state, _ in _tcp_table()
    )


async def until(condition: Callable[[], bool], what: str, limit: float = 15.0) -> None:
    """Polls ``condition`` (a bound on the wait, not a timing assertion)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"still waiting for: {what}")
        await asyncio.sleep(0.02)


async def new_connection(port: int, before: set[int]) -> int:
    found: set[int] = set()

    def opened() -> bool:
        found.update(our_connections(port) - before)
        return bool(found)

    await until(opened, "the request's connection to the Manager")
    assert len(found) == 1, found
    return found.pop()


async def assert_closed_both_ends(port: int, peer: int) -> None:
    await until(lambda: peer not in our_connections(port), f"our socket :{peer} to close")
    await until(lambda: not manager_holds(port, peer), f"the Manager to close :{peer}")


# ---------------------------------------------------------------------------------------
# Control plane


def test_management_methods(project: Project) -> None:
    async def main() -> None:
        s = slug()
        async with AsyncManagementClient.from_env() as mgmt:
            assert mgmt.project == project.slug
            assert "AsyncManagementClient" in repr(mgmt)
            assert "ik_sdk_" not in repr(mgmt)

            ref = await mgmt.ensure(chat_spec(s))
            assert isinstance(ref, EndpointRef)
            assert (ref.action, ref.project_slug, ref.workload_slug) == ("created", project.slug, s)
            again = await mgmt.ensure(chat_spec(s))
            assert (again.action, again.plan) == ("unchanged", [])

            loop_thread = threading.get_ident()
            seen: list[tuple[str, int]] = []
            ready = await mgmt.wait_until_ready(
                s,
                timeout=60,
                progress=False,
                on_event=lambda ev: seen.append((ev["phase"], threading.get_ident())),
            )
            assert ready["phase"] == "ready"
            assert seen and seen[-1][0] == "ready"
            # The callback runs on the event loop's thread, like any loop callback.
            assert {t for _, t in seen} == {loop_thread}

            phases = [ev["phase"] async for ev in mgmt.readiness_events(s)]
            assert phases[-1] == "ready"

            got = await mgmt.get(s)
            assert got["id"] == ref.workload_id
            assert s in [w["slug"] for w in await mgmt.list()]

            drifted = await mgmt.ensure(chat_spec(s, name="Renamed"), on_drift=OnDrift.DRY_RUN)
            assert drifted.action == "would_update"
            assert [f for f, _, _ in drifted.plan] == ["name"]
            with pytest.warns(DriftWarning, match="name"):
                warned = await mgmt.ensure(chat_spec(s, name="Renamed"), on_drift=OnDrift.WARN)
            assert warned.action == "drifted"
            updated = await mgmt.ensure(chat_spec(s, name="Renamed"))
            assert updated.action == "updated"
            assert (await mgmt.get(s))["name"] == "Renamed"

            await mgmt.delete(s)
            with pytest.raises(NotFoundError):
                await mgmt.get(s)

    asyncio.run(main())


def test_management_errors(project: Project) -> None:
    async def main() -> None:
        with pytest.raises(PermissionDenied):
            AsyncManagementClient(sdk_token=project.key)
        mgmt = AsyncManagementClient.from_env()
        with pytest.raises(TypeError, match="WorkloadSpec"):
            await mgmt.ensure({"slug": "x"})  # type: ignore[arg-type]
        with pytest.raises(ValidationError):
            await mgmt.ensure(chat_spec(slug(), model=" "))
        with pytest.raises(NotFoundError):
            await mgmt.wait_until_ready(slug(), timeout=30, progress=False)
        # An engine that never answers its health check: the wait ends at its timeout.
        s = slug()
        await mgmt.ensure(chat_spec(s, command="python3 -c 'import time; time.sleep(600)' {port}"))
        with pytest.raises(inferencekey.TimeoutError, match="not ready"):
            await mgmt.wait_until_ready(s, timeout=0.5, progress=False)
        await mgmt.delete(s)
        bad = AsyncManagementClient.from_env(sdk_token="ik_sdk_" + "x" * 40)
        with pytest.raises(AuthError):
            await bad.list()

    asyncio.run(main())


# ---------------------------------------------------------------------------------------
# Data plane


def test_generate_text_and_streams(project: Project) -> None:
    async def main() -> None:
        ep = await ready_chat(project)
        assert isinstance(ep, AsyncEndpoint)
        assert ep.base_url.endswith(f"/endpoint/{project.slug}/{ep.workload_slug}/v1")
        assert ep.api_key == project.key
        assert project.key not in repr(ep)

        out = await ep.generate_text(prompt="Hola", temperature=0.2, max_tokens=300)
        assert isinstance(out, TextResult)
        assert out.text and out.model == "meta-llama/Llama-3.1-8B-Instruct"
        msgs = [{"role": "user", "content": "Hola"}]
        assert (await ep.generate_text(messages=msgs, max_tokens=5)).text

        # async for, straight on the call.
        chunks = [c async for c in ep.generate_text_stream(prompt="Hola", max_tokens=20)]
        assert chunks and all(isinstance(c, TextChunk) for c in chunks)
        assert chunks[-1].finish_reason is not None
        assert "".join(c.text for c in chunks)

        # async with (sends the request on entry) and await (the same).
        async with ep.generate_text_stream(prompt="Hola", max_tokens=5) as stream:
            assert isinstance(stream, AsyncTextStream)
            assert [c.text async for c in stream]
        stream = await ep.generate_text_stream(prompt="Hola", max_tokens=5)
        assert [c.text async for c in stream]
        # A finished or closed stream stays finished.
        assert [c async for c in stream] == []

        # The stream's in-band error, truncation, and an HTTP error at open.
        with pytest.raises(ServerError, match="stream failed"):
            async for _ in ep.generate_text_stream(prompt="[[ik:error]] hi", max_tokens=50):
                pass
        with pytest.raises(ProtocolError, match="without \\[DONE\\]"):
            async for _ in ep.generate_text_stream(prompt="[[ik:truncate]] hi", max_tokens=50):
                pass
        with pytest.raises(ValidationError):
            async with ep.generate_text_stream(prompt="[[ik:status:400]] hi"):
                pass
        with pytest.raises(ValidationError):
            await ep.generate_text(prompt="a", messages=msgs)

        # Calls are coroutines: tasks and task groups take them.
        task = asyncio.create_task(ep.generate_text(prompt="in a task", max_tokens=3))
        assert (await task).text

    asyncio.run(main())


def test_embed_rerank_post(project: Project) -> None:
    async def main() -> None:
        s = slug()
        mgmt = AsyncManagementClient.from_env()
        await mgmt.ensure(embed_spec(s))
        await mgmt.wait_until_ready(s, timeout=60, progress=False)
        async with AsyncDataClient.from_env(api_key=project.key) as data:
            ep = data.endpoint(s)
            one = await ep.embed("hello")
            assert isinstance(one, EmbedResult)
            assert len(one) == 1 and len(one.embeddings[0]) > 0
            many = await ep.embed(["a", "b", "c"])
            assert len(many.embeddings) == 3
            assert many.embeddings[0] != many.embeddings[1]

            ranked = await ep.rerank("llama", ["a llama", "a car", "llamas eat grass"], top_n=2)
            assert isinstance(ranked, RerankResult)
            assert len(ranked.results) == 2
            assert all({"index", "relevance_score"} <= set(r) for r in ranked.results)

            models = await ep.post("/v1/embeddings", {"input": "x", "model": "m"})
            assert models["data"][0]["embedding"]
            with pytest.raises(inferencekey.ConfigurationError, match="route"):
                await ep.post("v1/embeddings", {})

    asyncio.run(main())


def test_jobs(project: Project) -> None:
    async def main() -> None:
        ep = await ready_chat(project)
        job = await ep.submit_job(
            "chat",
            {"messages": [{"role": "user", "content": "Hola"}], "max_tokens": 5},
            context={"ticket": 7},
        )
        assert isinstance(job, AsyncJob)
        assert job.id and job.id in repr(job)
        status = await job.status()
        assert status["status"] in ("queued", "running", "succeeded")
        final = await job.wait(timeout=60)
        assert final["status"] == "succeeded", final
        assert final["result"]
        assert (await job.status())["status"] == "succeeded"

        with pytest.raises(ValidationError, match="kind"):
            await ep.submit_job("nope", {})
        with pytest.raises(ValidationError, match="exactly one"):
            await ep.submit_job("chat")
        # The same JobRequest decoding as the blocking client.
        with pytest.raises(ValidationError) as exc:
            await ep.submit_job("chat", {}, contxt={})  # type: ignore[call-arg]
        assert exc.value.field == "contxt"
        with pytest.raises(ValidationError) as exc:
            await ep.submit_job("audio_transcriptions", data="x", content_type="audio/wav")  # type: ignore[arg-type]
        assert exc.value.field == "data"

    asyncio.run(main())


def test_200_concurrent_calls_on_one_client(project: Project) -> None:
    async def main() -> None:
        ep = await ready_chat(project)
        port = manager_port(project)
        before = our_connections(port)
        results = await asyncio.gather(
            *(ep.generate_text(prompt=f"call {i}", max_tokens=5) for i in range(200))
        )
        assert len(results) == 200
        assert all(isinstance(r, TextResult) and r.text for r in results)
        # One pool: the calls left their connections open for reuse, at most one per call.
        opened = our_connections(port) - before
        assert 1 <= len(opened) <= 200
        again = await asyncio.gather(*(ep.generate_text(prompt="x") for _ in range(50)))
        assert len(again) == 50
        # Reused, not reopened: the second burst opened only what the pool lacked. A call is
        # sent as soon as it is made, so on a busy machine early calls of the first burst may
        # finish and lend their connection to later ones: that burst can end with fewer than
        # 50 pooled, and 50 at once then need the difference, never more.
        now = our_connections(port) - before
        assert len(now - opened) <= max(0, 50 - len(opened))

    asyncio.run(main())


def test_sustained_concurrency_never_loses_a_result(project: Project) -> None:
    """32 tasks calling back to back on one client, as the benchmark does: results finish
    in bursts from several runtime threads while the loop drains them, the interleaving
    under which a lost wake-up would leave an ``await`` hanging forever."""

    async def main() -> int:
        ep = await ready_chat(project)
        done = 0

        async def work() -> None:
            nonlocal done
            for _ in range(40):
                assert (await ep.generate_text(prompt="x", max_tokens=2)).text
                done += 1

        # A hang fails here instead of stalling the suite.
        await asyncio.wait_for(asyncio.gather(*(work() for _ in range(32))), timeout=300)
        return done

    assert asyncio.run(main()) == 32 * 40


# ---------------------------------------------------------------------------------------
# Cancellation, timeouts


def test_cancel_mid_request_closes_the_connection(project: Project) -> None:
    async def main() -> None:
        port = manager_port(project)
        ep = await ready_chat(project)
        before = our_connections(port)
        task = asyncio.create_task(ep.generate_text(prompt=SLOW_REQUEST))
        peer = await new_connection(port, before)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # Without the cancel reaching Rust, the answer would arrive after 3 s and the
        # connection would stay open in the pool.
        await assert_closed_both_ends(port, peer)
        assert (await ep.generate_text(prompt="after", max_tokens=3)).text

        # asyncio.wait_for cancels the same way.
        before = our_connections(port)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(ep.generate_text(prompt=SLOW_REQUEST), timeout=0.5)
        for peer in our_connections(port) - before:
            await assert_closed_both_ends(port, peer)

    asyncio.run(main())


def test_cancel_mid_stream_closes_the_connection(project: Project) -> None:
    async def main() -> None:
        port = manager_port(project)
        ep = await ready_chat(project)

        before = our_connections(port)
        got_some = asyncio.Event()
        received = 0

        async def consume() -> None:
            nonlocal received
            async for _ in ep.generate_text_stream(prompt="long", max_tokens=100_000):
                received += 1
                if received == 50:
                    got_some.set()

        task = asyncio.create_task(consume())
        await got_some.wait()
        peer = await new_connection(port, before)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert received < 100_000
        await assert_closed_both_ends(port, peer)

        # Leaving `async with` early closes it too, and so does aclose().
        before = our_connections(port)
        async with ep.generate_text_stream(prompt="long", max_tokens=100_000) as stream:
            async for _ in stream:
                break
            peer = await new_connection(port, before)
        await assert_closed_both_ends(port, peer)

        before = our_connections(port)
        stream = ep.generate_text_stream(prompt="long", max_tokens=100_000)
        await stream.__anext__()
        peer = await new_connection(port, before)
        await stream.aclose()
        await assert_closed_both_ends(port, peer)
        with pytest.raises(StopAsyncIteration):
            await stream.__anext__()

        # close() from another task ends a read that is waiting on the network.
        stream = ep.generate_text_stream(prompt="[[ik:slow:3000]] hi", max_tokens=5)
        reader = asyncio.ensure_future(stream.__anext__())
        await asyncio.sleep(0.2)
        stream.close()
        with pytest.raises(StopAsyncIteration):
            await reader

        out = await ep.generate_text(prompt="after", max_tokens=3)
        assert out.text

    asyncio.run(main())


def test_timeouts(project: Project) -> None:
    async def main() -> None:
        ep = await ready_chat(project)
        with pytest.raises(inferencekey.TimeoutError):
            await ep.generate_text(prompt="[[ik:slow:2000]] hi", timeout=0.3)
        with pytest.raises(inferencekey.TimeoutError):
            async for _ in ep.generate_text_stream(prompt="[[ik:slow:2000]] hi", timeout=0.3):
                pass
        # A client-wide deadline applies to every call of the client.
        quick = AsyncDataClient.from_env(api_key=project.key, timeout=0.3).endpoint(
            ep.workload_slug
        )
        with pytest.raises(inferencekey.TimeoutError):
            await quick.generate_text(prompt="[[ik:slow:2000]] hi")
        # Ours subclasses the built-in TimeoutError (asyncio's, too), and the client stays
        # usable afterwards.
        with pytest.raises(asyncio.TimeoutError):
            await ep.generate_text(prompt="[[ik:slow:2000]] hi", timeout=0.3)
        assert (await ep.generate_text(prompt="fine", max_tokens=2)).text
        with pytest.raises(inferencekey.ConfigurationError, match="timeout"):
            await ep.generate_text(prompt="x", timeout=-1)

    asyncio.run(main())


def test_auth_errors(project: Project) -> None:
    async def main() -> None:
        ep = await ready_chat(project)
        with pytest.raises(PermissionDenied):
            AsyncDataClient(api_key=project.env["INFERENCEKEY_SDK_TOKEN"])
        bad = AsyncDataClient.from_env(api_key="ik_live_" + "x" * 40).endpoint(ep.workload_slug)
        with pytest.raises(AuthError):
            await bad.generate_text(prompt="x")
        with pytest.raises(AuthError):
            async for _ in bad.generate_text_stream(prompt="x"):
                pass

    asyncio.run(main())


# ---------------------------------------------------------------------------------------
# Event loops and interpreter exit


def test_uvloop(project: Project) -> None:
    uvloop = pytest.importorskip("uvloop")

    async def main() -> None:
        ep = await ready_chat(project)
        assert "uvloop" in type(asyncio.get_running_loop()).__module__
        out = await ep.generate_text(prompt="on uvloop", max_tokens=3)
        assert out.text
        assert [c async for c in ep.generate_text_stream(prompt="hi", max_tokens=5)]
        rs = await asyncio.gather(*(ep.generate_text(prompt="x") for _ in range(50)))
        assert len(rs) == 50
        # A fresh client, so the slow call opens its own connection instead of reusing one.
        fresh = AsyncDataClient.from_env(api_key=project.key).endpoint(ep.workload_slug)
        port = manager_port(project)
        before = our_connections(port)
        task = asyncio.create_task(fresh.generate_text(prompt=SLOW_REQUEST))
        peer = await new_connection(port, before)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await assert_closed_both_ends(port, peer)

    uvloop.run(main())


EXIT_SCRIPT = """
import asyncio, gc, sys, time
from inferencekey import AsyncDataClient

data = AsyncDataClient.from_env(api_key=sys.argv[1])
ep = data.endpoint(sys.argv[2])
streams = []

async def main():
    # Left running when main() returns: asyncio.run cancels them.
    asyncio.create_task(ep.generate_text(prompt="[[ik:slow:3000]] hi"))
    stream = ep.generate_text_stream(prompt="long", max_tokens=100000)
    await stream.__anext__()
    streams.append(stream)  # open, never closed, outlives the loop
    async def reader():
        async for _ in ep.generate_text_stream(prompt="long", max_tokens=100000):
            await asyncio.sleep(0)
    asyncio.create_task(reader())
    await asyncio.sleep(0.3)
    print(len((await ep.generate_text(prompt="x", max_tokens=2)).text) > 0)

asyncio.run(main())
# A second loop in the same process, with the clients created under the first.
print(asyncio.run(ep.generate_text(prompt="x", max_tokens=2)).text != "")

# A loop closed while a read is in flight: the answer arrives after the loop is gone.
async def start_read(stream):
    return stream.__anext__()  # the read's future, left pending

loop = asyncio.new_event_loop()
pending = loop.run_until_complete(
    start_read(ep.generate_text_stream(prompt="[[ik:slow:500]] hi", max_tokens=5))
)
loop.close()
time.sleep(1.5)
# And one still in flight at exit.
loop = asyncio.new_event_loop()
pending2 = loop.run_until_complete(
    start_read(ep.generate_text_stream(prompt="[[ik:slow:3000]] hi", max_tokens=5))
)
loop.close()
gc.collect()
"""


def test_clean_interpreter_exit(project: Project) -> None:
    async def setup() -> str:
        return (await ready_chat(project)).workload_slug

    workload = asyncio.run(setup())
    env = dict(os.environ, PYTHONWARNINGS="default", PYTHONDEVMODE="1")
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(EXIT_SCRIPT), project.key, workload],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True", "True"], proc.stdout
    for bad in ("Event loop is closed", "Traceback", "Exception ignored", "Warning"):
        assert bad not in proc.stderr, proc.stderr


# ---------------------------------------------------------------------------------------
# The seed examples (/work/shared/seeds 002 "Your first ensure()" and 004 "Modalities"),
# rewritten with await. Placeholders: "acme" -> the test project, "ik_live_..." -> its key,
# "wrk_7Yc2..." -> its registered worker.


def test_seed_first_ensure_async(project: Project) -> None:
    async def main() -> None:
        # provision.py
        mgmt = AsyncManagementClient.from_env(project=project.slug)
        ref = await mgmt.ensure(
            WorkloadSpec(
                name="support-bot",
                slug="support-bot",  # idempotency key
                model="meta-llama/Llama-3.1-8B-Instruct",
                backend=Backend.VLLM,
                command=("vllm serve meta-llama/Llama-3.1-8B-Instruct --max-model-len 8192"),
            )
            # on_drift defaults to OnDrift.RECONCILE
        )
        print("project: ", ref.project_slug)
        print("workload:", ref.workload_slug)
        assert (ref.project_slug, ref.workload_slug) == (project.slug, "support-bot")

        # provision.py (continued): called right after ensure(), no explicit wait.
        data = AsyncDataClient.from_env(project=project.slug)
        ep = data.endpoint(ref.workload_slug, api_key=project.key)
        out = await ep.generate_text(prompt="Hola", temperature=0.2, max_tokens=300)
        print(out.text)
        assert out.text

        # Run it again: still exactly one workload.
        again = await mgmt.ensure(
            WorkloadSpec(
                name="support-bot",
                slug="support-bot",
                model="meta-llama/Llama-3.1-8B-Instruct",
                backend=Backend.VLLM,
                command=("vllm serve meta-llama/Llama-3.1-8B-Instruct --max-model-len 8192"),
            )
        )
        assert again.action == "unchanged"
        assert [w["slug"] for w in await mgmt.list()].count("support-bot") == 1

    asyncio.run(main())


def test_seed_modalities_async(project: Project) -> None:
    wrk = project.worker_id

    async def main() -> None:
        mgmt = AsyncManagementClient.from_env(project=project.slug)

        # Chat / completion (text2text).
        ref = await mgmt.ensure(
            WorkloadSpec(
                name="Support bot",
                slug="support-bot",
                model="meta-llama/Llama-3.1-8B-Instruct",
                backend=Backend.VLLM,
                task_type="text2text",  # server default; explicit for clarity
                command="vllm serve meta-llama/Llama-3.1-8B-Instruct --max-model-len 8192",
                execution_policy=ExecutionPolicy.FIXED,
                execution_policy_config={"replicas": 1},
            )
        )
        print(ref.project_slug, ref.workload_slug)
        data = AsyncDataClient.from_env(project=project.slug, api_key=project.key)
        ep = data.endpoint(ref.workload_slug)
        out = await ep.generate_text(prompt="Hola", max_tokens=50)
        assert out.text
        # Private worker variation.
        private = await mgmt.ensure(
            WorkloadSpec(
                name="Support bot (private)",
                slug="support-bot-private",
                model="meta-llama/Llama-3.1-8B-Instruct",
                backend=Backend.VLLM,
                worker_id=wrk,
            )
        )
        assert private.action in ("created", "unchanged")

        # Embeddings.
        base: dict[str, Any] = dict(
            name="Billing embeddings",
            slug="billing",
            model="BAAI/bge-large-en-v1.5",
            backend=Backend.VLLM,
            task_type="embedding",
            command="vllm serve BAAI/bge-large-en-v1.5 --task embed",
        )
        # Fixed (cloud): always-on for live RAG queries.
        await mgmt.ensure(
            WorkloadSpec(
                **base,
                execution_policy=ExecutionPolicy.FIXED,
                execution_policy_config={"replicas": 1},
            )
        )
        vectors = await data.endpoint("billing").embed(["refund policy", "invoice"])
        assert len(vectors.embeddings) == 2
        # Autoscaling (private worker): scale on your own hardware.
        scaled = await mgmt.ensure(
            WorkloadSpec(
                **base,
                worker_id=wrk,
                execution_policy=ExecutionPolicy.AUTOSCALING,
                execution_policy_config={
                    "min_workers": 1,
                    "max_workers": 4,
                    "workers": {"source": "private", "private_worker_ids": [wrk]},
                },
            )
        )
        assert scaled.action == "updated"  # from the fixed policy just above

        # Image generation through the workload's OpenAI-compatible base, with the async
        # OpenAI client the docs point at.
        await mgmt.ensure(
            WorkloadSpec(
                name="Poster maker",
                slug="poster-maker",
                model="stabilityai/stable-diffusion-3.5-large",
                backend=Backend.VLLM_OMNI,
                task_type="text2image",
                command="vllm-omni serve stabilityai/stable-diffusion-3.5-large",
                vllm_version="0.6.3",
                execution_policy=ExecutionPolicy.AUTOSCALING,
                execution_policy_config={
                    "min_workers": 0,
                    "max_workers": 3,
                    "max_hourly_cost_usd": 5.0,
                    "workers": {
                        "source": "cloud",
                        "cloud_pool": {
                            "gpu_pool": ["NVIDIA A100-SXM4-80GB"],
                            "max_hourly_cost_usd": 5.0,
                            "max_instances": 3,
                        },
                    },
                },
            )
        )
        poster = data.endpoint("poster-maker")
        try:
            from openai import AsyncOpenAI
        except ImportError:
            img = await poster.post(
                "/v1/images/generations",
                {"prompt": "A neon poster of a llama coding at night", "size": "1024x1024"},
            )
            assert img["data"]
        else:
            client = AsyncOpenAI(base_url=poster.base_url, api_key=poster.api_key)
            generated = await client.images.generate(
                model="stabilityai/stable-diffusion-3.5-large",
                prompt="A neon poster of a llama coding at night",
                size="1024x1024",
            )
            assert generated.data
            await client.close()

        # Text-to-speech on a private worker; the audio comes back as bytes.
        await mgmt.ensure(
            WorkloadSpec(
                name="Voice over",
                slug="voice-over",
                model="hexgrad/Kokoro-82M",
                backend=Backend.VLLM_OMNI,
                task_type="text2audio",
                command="vllm-omni serve hexgrad/Kokoro-82M",
                worker_id=wrk,  # private worker
                execution_policy=ExecutionPolicy.FIXED,
                execution_policy_config={"replicas": 1},
            )
        )
        speech = await data.endpoint("voice-over").post(
            "/v1/audio/speech",
            {
                "model": "hexgrad/Kokoro-82M",
                "voice": "af_heart",
                "input": "Hola, su pedido va en camino.",
                "response_format": "wav",
            },
        )
        assert isinstance(speech, bytes) and speech[:4] == b"RIFF"

        # Reranker: async-only (no OpenAI route), called by rerank() and through jobs.
        await mgmt.ensure(
            WorkloadSpec(
                name="Search reranker",
                slug="search-reranker",
                model="BAAI/bge-reranker-v2-m3",
                backend=Backend.VLLM,
                task_type="reranker",
                command="vllm serve BAAI/bge-reranker-v2-m3 --task score",
                execution_policy=ExecutionPolicy.AUTOSCALING,
                execution_policy_config={
                    "min_workers": 0,
                    "max_workers": 3,
                    "max_hourly_cost_usd": 5.0,
                    "workers": {
                        "source": "cloud",
                        "cloud_pool": {
                            "gpu_pool": ["NVIDIA A100-SXM4-80GB"],
                            "max_hourly_cost_usd": 5.0,
                            "max_instances": 3,
                        },
                    },
                },
            )
        )
        reranker = data.endpoint("search-reranker")
        ranked = await reranker.rerank("llama", ["a car", "a llama"], top_n=1)
        assert [r["index"] for r in ranked.results] == [1]
        with pytest.raises(ValidationError, match="async-only"):
            await reranker.generate_text(prompt="hi")
        job = await reranker.submit_job(
            "rerank", {"query": "llama", "documents": ["a llama", "a car"], "top_n": 1}
        )
        final = await job.wait(timeout=60)
        assert final["status"] == "succeeded", final

        names = {w["slug"] for w in await mgmt.list()}
        assert names >= {
            "support-bot",
            "support-bot-private",
            "billing",
            "poster-maker",
            "voice-over",
            "search-reranker",
        }

    with warnings.catch_warnings():
        warnings.simplefilter("error", DriftWarning)
        asyncio.run(main())
