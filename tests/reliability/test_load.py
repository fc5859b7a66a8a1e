"""Load, bounded in count and time, loopback only: many concurrent ensure() calls on a few
slugs (threads and asyncio), and a sustained data-plane load through the gateway. No errors
(the Manager configures no rate limit), no duplicate workloads, and the Manager's memory
does not grow with the number of requests served.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
import uuid
from collections import Counter

from inferencekey import (
    AsyncManagementClient,
    Backend,
    DataClient,
    ManagementClient,
    WorkloadSpec,
)

from .conftest import MODEL, Project, rss_kib, tally

#: Time bound of the sustained load, whatever the count reached.
LOAD_SECONDS = 60.0


def spec(slug: str) -> WorkloadSpec:
    return WorkloadSpec(
        name=slug, slug=slug, model=MODEL, backend=Backend.VLLM, command=f"vllm serve {MODEL}"
    )


def test_concurrent_ensure_threads(project: Project) -> None:
    threads_n, slugs_n, rounds = 24, 6, 2
    slugs = [f"load-{i}-" + uuid.uuid4().hex[:4] for i in range(slugs_n)]
    actions: Counter[tuple[str, str]] = Counter()
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(seed: int) -> None:
        client = ManagementClient(project.slug, base_url=project.url, sdk_token=project.sdk_token)
        order = slugs * rounds
        random.Random(seed).shuffle(order)
        for slug in order:
            try:
                ref = client.ensure(spec(slug))
                with lock:
                    actions[(slug, ref.action)] += 1
            except BaseException as e:  # collected and asserted below
                with lock:
                    errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
        assert not t.is_alive()
    assert errors == []
    live = ManagementClient(project.slug, base_url=project.url, sdk_token=project.sdk_token).list()
    for slug in slugs:
        assert actions[(slug, "created")] == 1, actions
        assert actions[(slug, "created")] + actions[(slug, "unchanged")] == threads_n * rounds
        assert sum(w["slug"] == slug for w in live) == 1
    tally(
        "load: concurrent ensure() (threads)",
        calls=threads_n * slugs_n * rounds,
        threads=threads_n,
        slugs=slugs_n,
        errors=0,
        duplicates=0,
    )


def test_concurrent_ensure_asyncio(project: Project) -> None:
    calls_n, slugs_n = 96, 4
    slugs = [f"aload-{i}-" + uuid.uuid4().hex[:4] for i in range(slugs_n)]

    async def main() -> list[str]:
        async with AsyncManagementClient(
            project.slug, base_url=project.url, sdk_token=project.sdk_token
        ) as client:
            refs = await asyncio.gather(
                *(client.ensure(spec(slugs[i % slugs_n])) for i in range(calls_n))
            )
            return [r.action for r in refs]

    got = Counter(asyncio.run(main()))
    assert got["created"] == slugs_n and got["unchanged"] == calls_n - slugs_n, got
    live = ManagementClient(project.slug, base_url=project.url, sdk_token=project.sdk_token).list()
    for slug in slugs:
        assert sum(w["slug"] == slug for w in live) == 1
    tally(
        "load: concurrent ensure() (asyncio)",
        calls=calls_n,
        slugs=slugs_n,
        errors=0,
        duplicates=0,
    )


def test_sustained_data_plane_load(project: Project) -> None:
    """Threads share one DataClient; two workloads; blocking and streaming calls mixed."""
    slugs = [f"dp-{i}-" + uuid.uuid4().hex[:4] for i in range(2)]
    mgmt = ManagementClient(project.slug, base_url=project.url, sdk_token=project.sdk_token)
    for slug in slugs:
        mgmt.ensure(spec(slug))
    data = DataClient(project.slug, base_url=project.url, api_key=project.key)
    endpoints = [data.endpoint(s) for s in slugs]
    pid = project.manager.proc.pid
    threads_n, per_thread = 8, 600

    def batch(count: int, seed: int, deadline: float, out: Counter[str]) -> None:
        rng = random.Random(seed)
        for i in range(count):
            if time.monotonic() > deadline:
                out["stopped_by_time"] += 1
                return
            ep = endpoints[rng.randrange(len(endpoints))]
            words = rng.randrange(1, 40)
            try:
                if i % 3 == 2:
                    text = "".join(
                        c.text for c in ep.generate_text_stream(prompt="load", max_tokens=words)
                    )
                else:
                    text = ep.generate_text(prompt="load", max_tokens=words).text
                out["ok" if len(text.split()) == words else "wrong_length"] += 1
            except Exception as e:  # counted and asserted below
                out[type(e).__name__] += 1

    def run(per: int) -> Counter[str]:
        counts: Counter[str] = Counter()
        lock = threading.Lock()
        deadline = time.monotonic() + LOAD_SECONDS

        def one(seed: int) -> None:
            mine: Counter[str] = Counter()
            batch(per, seed, deadline, mine)
            with lock:
                counts.update(mine)

        threads = [threading.Thread(target=one, args=(s,)) for s in range(threads_n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(LOAD_SECONDS + 30)
            assert not t.is_alive()
        return counts

    warm = run(25)  # pools, caches and allocator arenas reach their working size
    rss_warm = rss_kib(pid)
    counts = run(per_thread)
    rss_after = rss_kib(pid)
    total = sum(counts.values()) - counts["stopped_by_time"]
    assert set(counts) <= {"ok", "stopped_by_time"}, counts
    assert set(warm) <= {"ok"}, warm
    assert total >= threads_n * 50  # the time bound did not cut the run to nothing
    growth_mib = (rss_after - rss_warm) / 1024
    # Per-request leaks would show as tens of MiB over thousands of requests.
    assert growth_mib < 32, f"Manager RSS grew {growth_mib:.1f} MiB over {total} requests"
    tally(
        "load: sustained data plane",
        requests=total + sum(warm.values()),
        errors=0,
        threads=threads_n,
        manager_rss_warm_mib=rss_warm // 1024,
        manager_rss_after_mib=rss_after // 1024,
    )
