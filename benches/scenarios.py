"""One scenario per process: ``python benches/scenarios.py NAME CONFIG.json OUT.json``.

``run.py`` starts this once per scenario (so one client's imports, threads or garbage cannot
tax the next scenario) and passes the server address, the nginx pids and the sizes.
"""

from __future__ import annotations

import asyncio
import gc
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import clients as C
from measure import Meter, Tally, interleaved, sequential

Config = dict[str, Any]
Result = dict[str, Any]


def check(cond: bool, what: str) -> None:
    """A wrong answer makes the numbers meaningless: stop the scenario."""
    if not cond:
        raise SystemExit(f"benchmark self-check failed: {what}")


def summaries(totals: dict[str, Tally]) -> dict[str, Any]:
    return {name: t.summary() for name, t in totals.items()}


def make_sync(cfg: Config, routes: C.Routes) -> dict[str, Any]:
    return {cls.name: cls(cfg["base_url"], routes) for cls in C.SYNC}


def close_all(cs: dict[str, Any]) -> None:
    for c in cs.values():
        c.close()


# ---------------------------------------------------------------------------------------


def seq_calls(cfg: Config, kind: str, routes: C.Routes) -> Result:
    cs = make_sync(cfg, routes)
    ops: dict[str, Callable[[Meter], Tally]] = {}
    expected: Any = None
    for name, c in cs.items():
        op = getattr(c, kind)
        got = op()
        if expected is None:
            expected = got
        if kind == "embed":
            check(len(got) == 2 and all(len(v) == 384 for v in got), f"{name}: 2x384 vectors")
            check(
                all(abs(a - b) < 1e-6 for a, b in zip(got[0], expected[0])),
                f"{name}: same vectors as the others",
            )
        else:
            check(got == expected, f"{name}: answered {got!r}, expected {expected!r}")
        ops[name] = lambda m, op=op: sequential(op, cfg["calls"], m)

    def warm(name: str) -> None:
        op = getattr(cs[name], kind)
        for _ in range(cfg["warmup"]):
            op()

    totals = interleaved(ops, cfg["rounds"], Meter(cfg["server_pids"]), warm)
    close_all(cs)
    return {"clients": summaries(totals)}


def chat(cfg: Config) -> Result:
    return seq_calls(cfg, "chat", C.Routes())


def embed(cfg: Config) -> Result:
    r = seq_calls(cfg, "embed", C.Routes(embed="embed"))
    r["note"] = (
        "the float JSON answer is served to every client, including inferencekey and openai, "
        "which ask for base64 and accept floats"
    )
    return r


def embed_b64(cfg: Config) -> Result:
    r = seq_calls(cfg, "embed", C.Routes(embed="embed-b64"))
    r["note"] = (
        "base64 float32 served to every client; each asks for it (inferencekey and openai do "
        "by default) and decodes it to lists of floats"
    )
    return r


# ---------------------------------------------------------------------------------------


def threads(cfg: Config) -> Result:
    """`threads` threads calling chat at once. Shared-safe clients are shared; http.client
    and the raw socket get one connection per thread (they are not thread-safe)."""
    n_threads, per = cfg["threads"], cfg["per_thread"]
    routes = C.Routes()
    shared = {cls.name: cls(cfg["base_url"], routes) for cls in C.SYNC if cls.shared}
    per_thread = {
        cls.name: [cls(cfg["base_url"], routes) for _ in range(n_threads)]
        for cls in C.SYNC
        if not cls.shared
    }

    def instance(name: str, i: int) -> Any:
        return shared[name] if name in shared else per_thread[name][i]

    def batch(name: str, calls: int, meter: Meter | None) -> Tally:
        t = Tally()
        lats: list[list[int]] = [[] for _ in range(n_threads)]
        errors: list[BaseException] = []
        go = threading.Barrier(n_threads + 1)

        def work(i: int) -> None:
            c = instance(name, i)
            lat = lats[i]
            clock = time.perf_counter_ns
            go.wait()
            try:
                for _ in range(calls):
                    t0 = clock()
                    c.chat()
                    lat.append(clock() - t0)
            except BaseException as e:
                errors.append(e)

        ts = [threading.Thread(target=work, args=(i,)) for i in range(n_threads)]
        for th in ts:
            th.start()
        if meter is not None:
            meter.start()
        go.wait()
        for th in ts:
            th.join()
        if meter is not None:
            meter.stop(t)
        if errors:
            raise errors[0]
        t.latencies_ns = [x for lat in lats for x in lat]
        t.calls = n_threads * calls
        return t

    names = list(shared) + list(per_thread)
    ops = {name: (lambda m, name=name: batch(name, per, m)) for name in names}
    totals = interleaved(ops, cfg["rounds"], Meter(cfg["server_pids"]), lambda n: batch(n, 3, None))
    for c in shared.values():
        c.close()
    for cs in per_thread.values():
        for c in cs:
            c.close()
    return {
        "clients": summaries(totals),
        "note": f"{n_threads} threads x {per} calls per batch; inferencekey, openai and httpx "
        "share one client; http.client and raw socket use one connection per thread",
    }


def asyncio_tasks(cfg: Config) -> Result:
    """Calls per second of 32 tasks sharing one client on one event loop."""
    n_tasks, per = cfg["threads"], cfg["per_thread"]
    out = _asyncio(cfg, n_tasks, per)
    out["note"] = (
        f"{n_tasks} tasks x {per} calls per batch on one event loop, one shared client "
        "each; asyncio streams = one kept-alive connection per task, pre-built request"
    )
    return out


def asyncio_sequential(cfg: Config) -> Result:
    """Latency of one task's calls, one after another (issue 17's sequential async p50)."""
    out = _asyncio(cfg, 1, cfg["calls"])
    out["note"] = (
        f"one task, {cfg['calls']} calls per batch, one after another; asyncio streams = one "
        "kept-alive connection, pre-built request"
    )
    return out


def _asyncio(cfg: Config, n_tasks: int, per: int) -> Result:
    routes = C.Routes()
    pending = not C.ours_async_available()

    async def main() -> dict[str, Tally]:
        cs = {cls.name: cls(cfg["base_url"], routes) for cls in C.async_clients()}
        for name, c in cs.items():
            got = await c.chat()
            check(bool(got), f"{name}: empty answer")

        async def batch(name: str, calls: int, meter: Meter | None) -> Tally:
            c = cs[name]
            t = Tally()
            lats: list[list[int]] = [[] for _ in range(n_tasks)]
            clock = time.perf_counter_ns

            async def work(i: int) -> None:
                lat = lats[i]
                for _ in range(calls):
                    t0 = clock()
                    await c.chat()
                    lat.append(clock() - t0)

            if meter is not None:
                meter.start()
            await asyncio.gather(*(work(i) for i in range(n_tasks)))
            if meter is not None:
                meter.stop(t)
            t.latencies_ns = [x for lat in lats for x in lat]
            t.calls = n_tasks * calls
            return t

        meter = Meter(cfg["server_pids"])
        names = list(cs)
        for name in names:
            await batch(name, 3, None)
        totals = {name: Tally() for name in names}
        for r in range(cfg["rounds"]):
            order = names[r % len(names) :] + names[: r % len(names)]
            for name in order:
                totals[name].add(await batch(name, per, meter))
        for c in cs.values():
            await c.aclose()
        return totals

    totals = asyncio.run(main())
    out: Result = {"clients": summaries(totals)}
    if pending:
        out["pending"] = ["inferencekey (asyncio)"]
    return out


# ---------------------------------------------------------------------------------------


def sse(cfg: Config) -> Result:
    """Chunks per second over a long stream, each chunk's text handed to the caller."""
    routes = C.Routes()
    cs = make_sync(cfg, routes)
    expected = cfg["stream_chunks"]

    def consume(c: Any, workload: str) -> int:
        n = 0
        for _ in c.stream(workload):
            n += 1
        return n

    for name, c in cs.items():
        got = consume(c, "stream-short")
        check(got == cfg["short_chunks"], f"{name}: {got} chunks of {cfg['short_chunks']}")

    def op(name: str) -> Callable[[Meter], Tally]:
        def run(meter: Meter) -> Tally:
            t = Tally()
            meter.start()
            t0 = time.perf_counter_ns()
            n = consume(cs[name], "stream")
            t.latencies_ns.append(time.perf_counter_ns() - t0)
            meter.stop(t)
            check(n == expected, f"{name}: {n} chunks of {expected}")
            t.calls, t.items = 1, n
            return t

        return run

    ops = {n: op(n) for n in cs}
    loop = None
    if C.ours_async_available():
        # Our asyncio stream on one loop, interleaved with the rest (issue 17's streaming row).
        loop = asyncio.new_event_loop()
        ours_async = C.OursAsync(cfg["base_url"], routes)
        got = loop.run_until_complete(ours_async.stream("stream-short"))
        check(got == cfg["short_chunks"], f"{ours_async.name}: {got} chunks")

        def run_async(meter: Meter) -> Tally:
            t = Tally()
            meter.start()
            t0 = time.perf_counter_ns()
            n = loop.run_until_complete(ours_async.stream("stream"))
            t.latencies_ns.append(time.perf_counter_ns() - t0)
            meter.stop(t)
            check(n == expected, f"{ours_async.name}: {n} chunks of {expected}")
            t.calls, t.items = 1, n
            return t

        ops[ours_async.name] = run_async
    totals = interleaved(ops, cfg["stream_rounds"], Meter(cfg["server_pids"]))
    close_all(cs)
    if loop is not None:
        loop.close()
    return {"clients": summaries(totals)}


def ttfc(cfg: Config) -> Result:
    """Time from the call to the first chunk in hand, on a short stream (then drained, so the
    connection stays alive for the next call)."""
    routes = C.Routes()
    cs = make_sync(cfg, routes)

    def op(name: str) -> Callable[[Meter], Tally]:
        c = cs[name]

        def run(meter: Meter) -> Tally:
            t = Tally()
            lat = t.latencies_ns
            clock = time.perf_counter_ns
            meter.start()
            for _ in range(cfg["ttfc_calls"]):
                t0 = clock()
                it = c.stream("stream-short")
                next(it)
                lat.append(clock() - t0)
                for _ in it:
                    pass
            meter.stop(t)
            t.calls = cfg["ttfc_calls"]
            return t

        return run

    def warm(name: str) -> None:
        for _ in range(cfg["warmup"]):
            for _ in cs[name].stream("stream-short"):
                pass

    totals = interleaved({n: op(n) for n in cs}, cfg["rounds"], Meter(cfg["server_pids"]), warm)
    close_all(cs)
    return {
        "clients": summaries(totals),
        "note": f"{cfg['short_chunks']}-chunk stream; CPU per call covers the whole stream",
    }


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def sse_memory_one(cfg: Config) -> Result:
    """In a fresh process: the peak RSS growth while one client reads one stream."""
    cls = next(c for c in C.SYNC if c.name == cfg["client"])
    c = cls(cfg["base_url"], C.Routes())
    for _ in range(3):
        for _ in c.stream("stream-short"):
            pass
    gc.collect()
    before = _status_kb("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM (the peak) to the current RSS
    n = 0
    for _ in c.stream(cfg["workload"]):
        n += 1
    peak = _status_kb("VmHWM")
    c.close()
    return {"chunks": n, "rss_before_kb": before, "peak_growth_kb": peak - before}


def sse_memory(cfg: Config) -> Result:
    """Peak memory growth per client at two stream lengths: flat means it does not grow
    with the length."""
    out: dict[str, Any] = {}
    for cls in C.SYNC:
        row: dict[str, Any] = {}
        lengths = (("stream", cfg["stream_chunks"]), ("stream-long", cfg["stream_chunks"] * 4))
        for workload, chunks in lengths:
            sub = dict(cfg, client=cls.name, workload=workload)
            res = subprocess_scenario("sse_memory_one", sub)
            check(res["chunks"] == chunks, f"{cls.name}: {res['chunks']} chunks of {chunks}")
            row[f"growth_kb_{chunks}"] = res["peak_growth_kb"]
        out[cls.name] = row
    return {
        "clients": out,
        "note": "peak RSS growth (VmHWM after the stream minus VmRSS before, reset with "
        "/proc/self/clear_refs) in a fresh process per client and length",
    }


# ---------------------------------------------------------------------------------------


IMPORTS = {
    "inferencekey": "import inferencekey",
    "openai": "import openai",
    "httpx": "import httpx",
    "http.client": "import http.client, json",
    "(nothing)": "pass",
}


def imports(cfg: Config) -> Result:
    """Cold imports, each in a fresh interpreter: the time inside the process around the
    import statement, and the whole process's wall time (interpreter start included)."""
    code = "import time; t0 = time.perf_counter_ns(); {stmt}; print(time.perf_counter_ns() - t0)"
    inside: dict[str, list[int]] = {k: [] for k in IMPORTS}
    whole: dict[str, list[int]] = {k: [] for k in IMPORTS}
    for run in range(cfg["import_runs"] + 1):
        for name, stmt in IMPORTS.items():
            t0 = time.perf_counter_ns()
            out = subprocess.run(
                [sys.executable, "-c", code.format(stmt=stmt)],
                capture_output=True,
                check=True,
            )
            if run == 0:
                continue  # the first run may still write bytecode caches
            whole[name].append(time.perf_counter_ns() - t0)
            inside[name].append(int(out.stdout))
    res: dict[str, Any] = {}
    for name in IMPORTS:
        a, b = sorted(inside[name]), sorted(whole[name])
        res[name] = {
            "import_ms_p50": a[len(a) // 2] / 1e6,
            "process_ms_p50": b[len(b) // 2] / 1e6,
            "runs": len(a),
        }
    return {"clients": res}


# ---------------------------------------------------------------------------------------


SCENARIOS: dict[str, Callable[[Config], Result]] = {
    "chat": chat,
    "embed": embed,
    "embed_b64": embed_b64,
    "threads": threads,
    "asyncio": asyncio_tasks,
    "asyncio_seq": asyncio_sequential,
    "sse": sse,
    "ttfc": ttfc,
    "sse_memory": sse_memory,
    "sse_memory_one": sse_memory_one,
    "import": imports,
}


def subprocess_scenario(name: str, cfg: Config) -> Result:
    """Runs scenario `name` in a fresh interpreter and returns its result."""
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        cfg_path, out_path = Path(d, "cfg.json"), Path(d, "out.json")
        cfg_path.write_text(json.dumps(cfg))
        subprocess.run([sys.executable, __file__, name, str(cfg_path), str(out_path)], check=True)
        return json.loads(out_path.read_text())


def main() -> None:
    name, cfg_path, out_path = sys.argv[1:4]
    cfg = json.loads(Path(cfg_path).read_text())
    fn = SCENARIOS.get(name)
    if fn is None:
        raise SystemExit(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}")
    result = fn(cfg)
    Path(out_path).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
