"""Fault injection on both hops of a request: SDK -> Manager (a proxy in front of the Manager)
and gateway -> engine (a proxy the workload's own command puts in front of the reference
engine). For each fault the SDK either retries and succeeds, or raises a typed error within
its deadline; it never hangs and never hands back a partial result as if it were whole.
"""

from __future__ import annotations

import json
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from inferencekey import (
    Backend,
    ConnectionError,
    DataClient,
    Endpoint,
    InferenceKeyError,
    ManagementClient,
    ProtocolError,
    RateLimitError,
    ServerError,
    TimeoutError,
    WorkloadSpec,
)

from .conftest import ENGINE_PROXY, MODEL, Project, tally
from .faultproxy import Fault, FaultProxy

T = TypeVar("T")

#: Hang detection only: every call below has an SDK deadline far shorter than this.
HANG = 60.0


def bounded(fn: Callable[[], T], limit: float = HANG) -> T:
    """Runs `fn` in a thread and fails the test if it has not returned within `limit`."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as e:  # re-raised in the test's thread below
            box["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(limit)
    assert not t.is_alive(), f"the call hung for more than {limit:.0f} s"
    if "error" in box:
        raise box["error"]
    return box["value"]


def spec(slug: str, **kw: Any) -> WorkloadSpec:
    return WorkloadSpec(
        name=kw.pop("name", slug),
        slug=slug,
        model=kw.pop("model", MODEL),
        backend=Backend.VLLM,
        command=kw.pop("command", f"vllm serve {MODEL}"),
        **kw,
    )


def mgmt(project: Project, url: str, **kw: Any) -> ManagementClient:
    kw.setdefault("max_retries", 6)
    kw.setdefault("read_timeout", 5.0)
    return ManagementClient(project.slug, base_url=url, sdk_token=project.sdk_token, **kw)


def workloads_named(project: Project, slug: str) -> list[dict[str, Any]]:
    """Straight from the Manager, not through any proxy."""
    direct = mgmt(project, project.url)
    return [w for w in direct.list() if w["slug"] == slug]


@pytest.fixture
def proxy(project: Project) -> Iterator[FaultProxy]:
    p = FaultProxy(project.url)
    yield p
    tally("faults: SDK <-> Manager", requests=p.requests, faults_injected=p.injected)
    p.close()


# --- SDK <-> Manager: control plane -----------------------------------------------------

CONTROL_FAULTS = [
    pytest.param(Fault("reset"), id="reset"),
    pytest.param(Fault("reset_after"), id="reset-after-processing"),
    pytest.param(Fault("drop_mid_body", after_bytes=1), id="drop-mid-body"),
    pytest.param(Fault("status", status=503, retry_after="0.1"), id="503-retry-after"),
    pytest.param(Fault("status", status=502, retry_after=None), id="502"),
    pytest.param(Fault("status", status=429, retry_after="0.1"), id="429-retry-after"),
    pytest.param(Fault("delay", delay=1.0), id="delay"),
]


@pytest.mark.parametrize("fault", CONTROL_FAULTS)
@pytest.mark.parametrize("at", ["lookup", "create", "patch"])
def test_ensure_survives_a_fault(
    project: Project, proxy: FaultProxy, fault: Fault, at: str
) -> None:
    """One fault on the lookup, the create (POST with an Idempotency-Key) or the patch; the
    retry succeeds and exactly one workload with the right spec exists."""
    slug = f"f-{at}-" + uuid.uuid4().hex[:6]
    client = mgmt(project, proxy.url)
    if at == "patch":
        bounded(lambda: client.ensure(spec(slug)))
        desired = spec(slug, description="patched under a fault")
    else:
        desired = spec(slug)
    # Requests of one ensure(): lookup (GET), then create (POST) or patch (PATCH).
    skip = {"lookup": 0, "create": 1, "patch": 1}[at]
    proxy.push(Fault("pass"), skip).push(fault)
    ref = bounded(lambda: client.ensure(desired))
    assert ref.action == ("updated" if at == "patch" else "created")
    live = workloads_named(project, slug)
    assert len(live) == 1
    assert live[0]["description" if at == "patch" else "model_name"] == (
        "patched under a fault" if at == "patch" else MODEL
    )
    assert proxy.injected == 1


def test_blackholed_manager_is_a_timeout(project: Project, proxy: FaultProxy) -> None:
    proxy.push(Fault("blackhole"), 10)
    client = mgmt(project, proxy.url, read_timeout=0.5, max_retries=1)
    with pytest.raises(TimeoutError):
        bounded(lambda: client.ensure(spec("bh-" + uuid.uuid4().hex[:6])))
    total = mgmt(project, proxy.url, read_timeout=30, max_retries=5)
    with pytest.raises(TimeoutError):
        bounded(lambda: total.ensure(spec("bh-" + uuid.uuid4().hex[:6]), timeout=1.0))


def test_retry_budget_exhausted_is_the_last_error(project: Project, proxy: FaultProxy) -> None:
    proxy.push(Fault("status", status=503, retry_after="0.01", code="backend_unavailable"), 10)
    client = mgmt(project, proxy.url, max_retries=3)
    with pytest.raises(ServerError) as exc:
        bounded(lambda: client.list())
    assert exc.value.status == 503 and exc.value.code == "backend_unavailable"
    assert proxy.requests == 4
    proxy.calm()
    proxy.push(Fault("status", status=429, retry_after="0.01"), 10)
    with pytest.raises(RateLimitError):
        bounded(lambda: mgmt(project, proxy.url, max_retries=2).list())


def test_ensure_converges_under_random_faults(project: Project, proxy: FaultProxy) -> None:
    """Many ensure() calls, several at once, through a proxy that faults a third of all
    requests: each call succeeds or raises a typed error, and re-running converges on one
    workload per slug with the last spec."""
    proxy.randomize(
        seed=7,
        p=0.33,
        faults=[
            Fault("reset"),
            Fault("reset_after"),
            Fault("drop_mid_body", after_bytes=10),
            Fault("status", status=503, retry_after="0.02"),
            Fault("status", status=502, retry_after=None),
            Fault("status", status=429, retry_after="0.02"),
            Fault("delay", delay=0.2),
        ],
    )
    slugs = [f"rnd-{i}-" + uuid.uuid4().hex[:4] for i in range(4)]
    typed_errors = 0
    calls = 0
    lock = threading.Lock()

    def worker(n: int) -> None:
        nonlocal typed_errors, calls
        client = mgmt(project, proxy.url, max_retries=4)
        for round_ in range(3):
            for slug in slugs:
                desired = spec(slug, description=f"round {round_}")
                for _attempt in range(20):
                    with lock:
                        calls += 1
                    try:
                        client.ensure(desired)
                        break
                    except InferenceKeyError:
                        with lock:
                            typed_errors += 1
                else:
                    raise AssertionError(f"{slug} did not converge in 20 attempts")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    bounded(lambda: [t.start() for t in threads] and [t.join() for t in threads], 240)
    for slug in slugs:
        live = workloads_named(project, slug)
        assert len(live) == 1, live
        assert live[0]["description"] == "round 2"
    assert proxy.injected > 20
    tally(
        "faults: random ensure() soak",
        ensure_calls=calls,
        typed_errors_then_retried=typed_errors,
        workloads=len(slugs),
        duplicates=0,
    )


# --- SDK <-> Manager: data plane --------------------------------------------------------


@pytest.fixture(scope="module")
def chat_slug(project: Project) -> str:
    slug = "chat-" + uuid.uuid4().hex[:6]
    mgmt(project, project.url).ensure(spec(slug))
    DataClient(project.slug, base_url=project.url, api_key=project.key).endpoint(
        slug
    ).generate_text(prompt="warm up", max_tokens=2)
    return slug


def endpoint(project: Project, url: str, slug: str, **kw: Any) -> Endpoint:
    kw.setdefault("max_retries", 3)
    kw.setdefault("read_timeout", 5.0)
    return DataClient(project.slug, base_url=url, api_key=project.key, **kw).endpoint(slug)


def test_data_plane_retries_what_was_not_processed(
    project: Project, proxy: FaultProxy, chat_slug: str
) -> None:
    ep = endpoint(project, proxy.url, chat_slug)
    for fault in [
        Fault("status", status=503, retry_after="0.05"),
        Fault("status", status=429, retry_after="0.05"),
        Fault("delay", delay=0.5),
    ]:
        proxy.push(fault)
        out = bounded(lambda: ep.generate_text(prompt="hello", max_tokens=4))
        assert len(out.text.split()) == 4


def test_data_plane_never_returns_a_partial_answer(
    project: Project, proxy: FaultProxy, chat_slug: str
) -> None:
    """A POST that may have been processed is not retried: the caller gets a typed error.
    (A reset after the request was written counts: the client cannot know it was not.)"""
    ep = endpoint(project, proxy.url, chat_slug)
    proxy.push(Fault("reset"))
    with pytest.raises(ConnectionError):
        bounded(lambda: ep.generate_text(prompt="hello", max_tokens=4))
    proxy.push(Fault("reset_after"))
    with pytest.raises(ConnectionError):
        bounded(lambda: ep.generate_text(prompt="hello", max_tokens=4))
    proxy.push(Fault("drop_mid_body", after_bytes=30))
    with pytest.raises((ConnectionError, ProtocolError)):
        bounded(lambda: ep.generate_text(prompt="hello", max_tokens=400))
    proxy.push(Fault("status", status=502, retry_after=None))
    with pytest.raises(ServerError) as exc:
        bounded(lambda: ep.generate_text(prompt="hello"))
    assert exc.value.status == 502
    proxy.push(Fault("blackhole"))
    with pytest.raises(TimeoutError):
        bounded(
            lambda: endpoint(project, proxy.url, chat_slug, read_timeout=0.5).generate_text(
                prompt="hello"
            )
        )


def test_streams_cut_short_are_errors(project: Project, proxy: FaultProxy, chat_slug: str) -> None:
    ep = endpoint(project, proxy.url, chat_slug)

    def consume() -> list[str]:
        got: list[str] = []
        for chunk in ep.generate_text_stream(prompt="stream", max_tokens=50):
            got.append(chunk.text)
        return got

    proxy.push(Fault("truncate_sse", after_events=3))
    with pytest.raises(ProtocolError) as exc:
        bounded(consume)
    assert exc.value.code == "stream_truncated"
    proxy.push(Fault("drop_mid_body", after_bytes=300))
    with pytest.raises((ConnectionError, ProtocolError)):
        bounded(consume)
    # The stream head is retried like any request; after it, nothing is.
    proxy.push(Fault("status", status=503, retry_after="0.05"))
    assert len("".join(bounded(consume)).split()) == 50


# --- gateway <-> engine ------------------------------------------------------------------


class EngineFaults:
    """The control files of the engine proxies of one workload."""

    def __init__(self, control: Path) -> None:
        self.control = control

    def push(self, *faults: Fault) -> None:
        path = self.control / "faults.json"
        queue = json.loads(path.read_text()) if path.exists() else []
        queue.extend(f.to_dict() for f in faults)
        path.write_text(json.dumps(queue))

    def log(self) -> list[dict[str, Any]]:
        path = self.control / "requests.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def proxied(
    project: Project, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Endpoint, EngineFaults]]:
    control = tmp_path_factory.mktemp("engine-proxy")
    slug = "eng-" + uuid.uuid4().hex[:6]
    command = (
        f"{sys.executable} {ENGINE_PROXY} --listen {{port}} --control {control} "
        f"--model {MODEL} --task-type text2text"
    )
    mgmt(project, project.url).ensure(spec(slug, command=command))
    ep = endpoint(project, project.url, slug)
    ep.generate_text(prompt="warm up", max_tokens=2)
    faults = EngineFaults(control)
    yield ep, faults
    log = faults.log()
    tally(
        "faults: gateway <-> engine",
        requests=len(log),
        faults_injected=sum(1 for r in log if r["fault"] != "pass"),
    )


def test_engine_faults_before_an_answer_are_retried(proxied: tuple[Endpoint, EngineFaults]) -> None:
    """The engine resets or fails before answering: the gateway answers 503
    backend_unavailable (Retry-After) or passes the engine's 503/429, and the SDK retries."""
    ep, faults = proxied
    for fault in [
        Fault("reset"),
        Fault("status", status=503, retry_after="0.05"),
        Fault("status", status=429, retry_after="0.05"),
        Fault("delay", delay=0.5),
    ]:
        faults.push(fault)
        out = bounded(lambda: ep.generate_text(prompt="through the engine proxy", max_tokens=3))
        assert len(out.text.split()) == 3
    kinds = [r["fault"] for r in faults.log()]
    assert {"reset", "status", "delay"} <= set(kinds)


def test_engine_faults_after_processing_are_typed_errors(
    proxied: tuple[Endpoint, EngineFaults],
) -> None:
    ep, faults = proxied
    faults.push(Fault("status", status=502, retry_after=None))
    with pytest.raises(ServerError) as exc:
        bounded(lambda: ep.generate_text(prompt="x"))
    assert exc.value.status == 502
    faults.push(Fault("drop_mid_body", after_bytes=40))
    with pytest.raises((ConnectionError, ProtocolError, ServerError)):
        bounded(lambda: ep.generate_text(prompt="x", max_tokens=300))
    faults.push(Fault("blackhole"))
    with pytest.raises(TimeoutError):
        bounded(lambda: ep.generate_text(prompt="x", timeout=1.0))
    # The engine and the gateway recover for the next caller.
    assert bounded(lambda: ep.generate_text(prompt="after", max_tokens=2)).text


def test_engine_streams_cut_short_are_errors(proxied: tuple[Endpoint, EngineFaults]) -> None:
    ep, faults = proxied

    def consume() -> str:
        return "".join(c.text for c in ep.generate_text_stream(prompt="s", max_tokens=40))

    faults.push(Fault("truncate_sse", after_events=2))
    with pytest.raises(ProtocolError) as exc:
        bounded(consume)
    assert exc.value.code == "stream_truncated"
    faults.push(Fault("drop_mid_body", after_bytes=200))
    with pytest.raises((ConnectionError, ProtocolError)):
        bounded(consume)
    assert len(bounded(consume).split()) == 40
