"""The markdown report: a summary in PERFORMANCE.md's shape, the bar with verdicts, and one
detail table per scenario."""

from __future__ import annotations

import math
from typing import Any

OURS = "inferencekey"
OURS_ASYNC = "inferencekey (asyncio)"
FLOOR = "http.client"
OPENAI = "openai"
X = "\u00d7"  # the multiplication sign, kept out of f-string expressions
SYNC_ORDER = [OURS, "raw socket", "http.client", "httpx", "openai"]

TITLES = {
    "chat": "Sequential chat call",
    "embed": "Sequential embeddings, 2\u00d7384 floats (float JSON to everyone)",
    "embed_b64": "Sequential embeddings, 2\u00d7384 floats (base64 to everyone)",
    "threads": "32 threads sharing one client",
    "asyncio": "asyncio, 32 tasks sharing one client",
    "asyncio_seq": "asyncio, sequential calls on one task",
    "sse": "SSE stream",
    "ttfc": "Time to first chunk",
    "sse_memory": "SSE stream: peak memory growth",
    "import": "Cold import",
    "ensure": "ensure() unchanged",
    "gateway": "Manager gateway",
    "agent": "Gateway to a worker agent's replica",
}


def fmt(x: Any, digits: int = 0, unit: str = "") -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    if isinstance(x, str):
        return x
    s = f"{x:,.0f}" if abs(x) >= 100 or digits == 0 else f"{x:,.{digits}f}"
    return s + unit


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


def get(res: dict[str, Any], scenario: str, client: str, key: str) -> Any:
    return res.get(scenario, {}).get("clients", {}).get(client, {}).get(key)


def summary(res: dict[str, Any]) -> list[str]:
    cols = SYNC_ORDER
    lines = [
        "| scenario | " + " | ".join(cols) + " |",
        "|---|" + "---:|" * len(cols),
    ]

    def row(label: str, scenario: str, key: str, unit: str, digits: int = 0) -> None:
        if scenario not in res:
            return
        cells = [fmt(get(res, scenario, c, key), digits, unit) for c in cols]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")

    row("sequential chat call, p50", "chat", "p50_us", " µs")
    row("sequential embeddings (floats), p50", "embed", "p50_us", " µs")
    row("sequential embeddings (base64), p50", "embed_b64", "p50_us", " µs")
    row("32 threads sharing one client, calls/s", "threads", "calls_per_s", "")
    if "sse" in res:
        cells = []
        for c in cols:
            v = get(res, "sse", c, "items_per_s")
            cells.append("—" if v is None else f"{v / 1000:,.1f}k")
        lines.append("| SSE stream, chunks/s | " + " | ".join(cells) + " |")
    row("time to first chunk, p50", "ttfc", "p50_us", " µs")
    if "import" in res:
        imp = res["import"]["clients"]
        cells = []
        for c in cols:
            key = {"raw socket": None, "http.client": "http.client"}.get(c, c)
            v = imp.get(key, {}).get("import_ms_p50") if key else None
            cells.append(fmt(v, 1, " ms"))
        lines.append("| `import` (in-process), ms | " + " | ".join(cells) + " |")
    if "asyncio" in res:
        a = res["asyncio"]
        cells = []
        for c in cols:
            name = {"inferencekey": OURS_ASYNC, "raw socket": "asyncio streams"}.get(
                c, f"{c} (asyncio)"
            )
            v = get(res, "asyncio", name, "calls_per_s")
            if v is None and name in a.get("pending", []):
                cells.append("pending")
            else:
                cells.append(fmt(v))
        lines.append("| asyncio, 32 tasks, calls/s | " + " | ".join(cells) + " |")
    if "asyncio_seq" in res:
        cells = []
        for c in cols:
            name = {"inferencekey": OURS_ASYNC, "raw socket": "asyncio streams"}.get(
                c, f"{c} (asyncio)"
            )
            cells.append(fmt(get(res, "asyncio_seq", name, "p50_us"), 0, " µs"))
        lines.append("| asyncio, sequential chat p50 | " + " | ".join(cells) + " |")
    return lines


def verdict(ok: bool | None) -> str:
    return {True: "met", False: "**missed**", None: "not measured"}[ok]


def bar(res: dict[str, Any]) -> list[str]:
    lines = ["| scenario | bar | measured | verdict |", "|---|---|---|---|"]

    def add(scenario: str, bar_text: str, measured: str, ok: bool | None) -> None:
        lines.append(f"| {scenario} | {bar_text} | {measured} | {verdict(ok)} |")

    for sc, label in (("chat", "sequential chat p50"), ("embed", "sequential embeddings p50")):
        ours, floor, oai = (get(res, sc, c, "p50_us") for c in (OURS, FLOOR, OPENAI))
        vf, vo = ratio(ours, floor), ratio(oai, ours)
        ok = None if vf is None or vo is None else (vf <= 1.0 and vo >= 5.0)
        add(
            label,
            "≤ 1.0\u00d7 http.client and ≥ 5\u00d7 faster than openai",
            f"{fmt(vf, 2, X)} http.client; {fmt(vo, 1, X)} faster than openai",
            ok,
        )
    if "embed_b64" in res:
        ours, floor, oai = (get(res, "embed_b64", c, "p50_us") for c in (OURS, FLOOR, OPENAI))
        vf, vo = ratio(ours, floor), ratio(oai, ours)
        ok = None if vf is None or vo is None else (vf <= 1.0 and vo >= 5.0)
        add(
            "embeddings p50, base64 variant",
            "(same bar, for reference)",
            f"{fmt(vf, 2, X)} http.client; {fmt(vo, 1, X)} faster than openai",
            ok,
        )
    v = ratio(get(res, "threads", OURS, "calls_per_s"), get(res, "threads", FLOOR, "calls_per_s"))
    add(
        "32 threads, one client",
        "≥ 2\u00d7 http.client calls/s",
        fmt(v, 2, "\u00d7 http.client"),
        None if v is None else v >= 2.0,
    )
    if "chat" in res:
        v = ratio(get(res, "chat", OURS, "p50_us"), get(res, "chat", "raw socket", "p50_us"))
        add(
            "sequential chat p50 (issue 17)",
            "≤ 1.15\u00d7 the raw socket",
            fmt(v, 2, "\u00d7 raw socket"),
            None if v is None else v <= 1.15,
        )
    if "threads" in res:
        v = ratio(
            get(res, "threads", OURS, "calls_per_s"),
            get(res, "threads", "raw socket", "calls_per_s"),
        )
        add(
            "32 threads (issue 17)",
            "≥ 1.3\u00d7 the raw socket's calls/s",
            fmt(v, 2, "\u00d7 raw socket"),
            None if v is None else v >= 1.3,
        )
    if "asyncio" in res:
        a = get(res, "asyncio", OURS_ASYNC, "calls_per_s")
        o = get(res, "asyncio", "openai (asyncio)", "calls_per_s")
        v = ratio(a, o)
        if a is None:
            add(
                "asyncio, 32 tasks",
                "≥ 10\u00d7 openai async calls/s",
                "pending (no asyncio API yet)",
                None,
            )
        else:
            add(
                "asyncio, 32 tasks",
                "≥ 10\u00d7 openai async calls/s",
                fmt(v, 1, "\u00d7 openai async"),
                v >= 10.0,
            )
    if "asyncio" in res:
        a = get(res, "asyncio", OURS_ASYNC, "calls_per_s")
        f = get(res, "asyncio", "asyncio streams", "calls_per_s")
        v = ratio(a, f)
        add(
            "asyncio, 32 tasks (issue 17)",
            "≥ 0.8\u00d7 the asyncio-streams floor's calls/s",
            fmt(v, 2, "\u00d7 asyncio streams"),
            None if v is None else v >= 0.8,
        )
    if "asyncio_seq" in res:
        ours = get(res, "asyncio_seq", OURS_ASYNC, "p50_us")
        floor = get(res, "asyncio_seq", "asyncio streams", "p50_us")
        aio = get(res, "asyncio_seq", "aiohttp (asyncio)", "p50_us")
        v = ratio(ours, floor)
        below = None if ours is None or aio is None else ours < aio
        add(
            "asyncio, sequential p50 (issue 17)",
            "≤ 1.2\u00d7 asyncio streams and below aiohttp",
            f"{fmt(v, 2, X)} asyncio streams; {fmt(ours, 0, ' µs')} vs aiohttp "
            f"{fmt(aio, 0, ' µs')}",
            None if v is None or below is None else (v <= 1.2 and below),
        )
    if "sse" in res:
        peers = [c for c in SYNC_ORDER if c != OURS]
        best = max(peers, key=lambda c: get(res, "sse", c, "items_per_s") or 0)
        v = ratio(get(res, "sse", OURS, "items_per_s"), get(res, "sse", best, "items_per_s"))
        mem = res.get("sse_memory", {}).get("clients", {}).get(OURS, {})
        growth = sorted(mem.items())
        flat = None
        mem_text = ""
        if len(growth) == 2:
            (k1, g1), (k2, g2) = sorted(growth, key=lambda kv: int(kv[0].rsplit("_", 1)[1]))
            # Flat: the four times longer stream grows memory by less than 512 KiB more.
            flat = g2 - g1 < 512
            mem_text = (
                f"; memory growth {fmt(g1)} KiB at {k1.rsplit('_', 1)[1]} chunks, "
                f"{fmt(g2)} KiB at {k2.rsplit('_', 1)[1]}"
            )
        ok = None if v is None else (v >= 2.0 and flat is not False)
        add(
            "SSE stream",
            "≥ 2\u00d7 the fastest Python client's chunks/s; memory flat",
            f"{fmt(v, 2, X)} {best}{mem_text}",
            ok,
        )
        sync_v = get(res, "sse", OURS, "items_per_s")
        async_v = get(res, "sse", OURS_ASYNC, "items_per_s")
        if async_v is not None:
            a_sync = ratio(async_v, sync_v)
            a_best = ratio(async_v, get(res, "sse", best, "items_per_s"))
            s_best = v
            add(
                "SSE stream, asyncio (issue 17)",
                "asyncio ≥ 0.9\u00d7 sync chunks/s; both ≥ 3\u00d7 the fastest Python client",
                f"asyncio {fmt(a_sync, 2, X)} sync; asyncio {fmt(a_best, 2, X)} {best}, "
                f"sync {fmt(s_best, 2, X)} {best}",
                None
                if a_sync is None or a_best is None or s_best is None
                else (a_sync >= 0.9 and a_best >= 3 and s_best >= 3),
            )
    v = ratio(get(res, "ttfc", OURS, "p50_us"), get(res, "ttfc", FLOOR, "p50_us"))
    add(
        "time to first chunk",
        "≤ 1.0\u00d7 http.client",
        fmt(v, 2, "\u00d7 http.client"),
        None if v is None else v <= 1.0,
    )
    if "import" in res:
        imp = res["import"]["clients"]["inferencekey"]
        t = imp["import_ms_p50"]
        add(
            "`import inferencekey`",
            "≤ 30 ms",
            f"{fmt(t, 1, ' ms')} in-process ({fmt(imp['process_ms_p50'], 1, ' ms')} whole "
            f"process, {fmt(res['import']['clients']['(nothing)']['process_ms_p50'], 1, ' ms')} "
            "for an empty one)",
            t <= 30,
        )
        add("`import inferencekey` (issue 17)", "≤ 20 ms", fmt(t, 1, " ms"), t <= 20)
    if "ensure" in res:
        e = res["ensure"]
        add(
            "`ensure()` unchanged",
            "exactly 1 request; 10,000 workloads ≤ 2\u00d7 one",
            e.get("summary", "—"),
            e.get("ok"),
        )
    else:
        add("`ensure()` unchanged", "exactly 1 request; 10,000 workloads ≤ 2\u00d7 one", "—", None)
    if "gateway" in res:
        g = res["gateway"]
        add(
            "Manager gateway",
            "≤ 100 µs p50 added; streams unbuffered",
            g.get("summary", "—"),
            g.get("ok"),
        )
    else:
        add("Manager gateway", "≤ 100 µs p50 added; streams unbuffered", "—", None)
    return lines


def detail(name: str, r: dict[str, Any]) -> list[str]:
    clients = r.get("clients", {})
    lines = [f"#### {TITLES.get(name, name)}", ""]
    if r.get("note"):
        lines += [r["note"] + ".", ""]
    if name == "import":
        lines += ["| module | import, p50 | whole process, p50 | runs |", "|---|---:|---:|---:|"]
        for c, v in clients.items():
            lines.append(
                f"| {c} | {fmt(v['import_ms_p50'], 1, ' ms')} | "
                f"{fmt(v['process_ms_p50'], 1, ' ms')} | {v['runs']} |"
            )
        return [*lines, ""]
    if name == "sse_memory":
        keys = sorted(
            {k for v in clients.values() for k in v}, key=lambda k: int(k.rsplit("_", 1)[1])
        )
        lines += [
            "| client | " + " | ".join(f"{k.rsplit('_', 1)[1]} chunks" for k in keys) + " |",
            "|---|" + "---:|" * len(keys),
        ]
        for c, v in clients.items():
            lines.append(f"| {c} | " + " | ".join(fmt(v.get(k), 0, " KiB") for k in keys) + " |")
        return [*lines, ""]
    if name in ("ensure", "gateway", "agent"):
        return lines + r.get("table", []) + [""]
    stream = name == "sse"
    if stream:
        head = (
            "| client | chunks/s | CPU per chunk | \u00d7floor (http.client) | \u00d7openai "
            "| server CPU |"
        )
        lines += [head, "|---|---:|---:|---:|---:|---:|"]
        floor = clients.get(FLOOR, {}).get("items_per_s")
        oai = clients.get(OPENAI, {}).get("items_per_s")
        for c, v in clients.items():
            x = v.get("items_per_s")
            lines.append(
                f"| {c} | {fmt(x)} | {fmt(v.get('cpu_ns_per_item'), 0, ' ns')} | "
                f"{fmt(ratio(x, floor), 2, X)} | {fmt(ratio(x, oai), 1, X)} | "
                f"{fmt(v.get('server_cpu_pct'), 0, '%')} |"
            )
        return [*lines, ""]
    throughput = name in ("threads", "asyncio")
    is_async = name in ("asyncio", "asyncio_seq")
    floor_name = "asyncio streams" if is_async else FLOOR
    oai_name = "openai (asyncio)" if is_async else OPENAI
    lines += [
        "| client | p50 | p99 | calls/s | CPU per call | \u00d7floor | openai÷this | server CPU |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    key = "calls_per_s" if throughput else "p50_us"
    floor = clients.get(floor_name, {}).get(key)
    oai = clients.get(oai_name, {}).get(key)
    for c, v in clients.items():
        x = v.get(key)
        if throughput:
            vs_floor, vs_oai = ratio(x, floor), ratio(x, oai)
        else:
            vs_floor, vs_oai = ratio(x, floor), ratio(oai, x)
        lines.append(
            f"| {c} | {fmt(v.get('p50_us'), 0, ' µs')} | {fmt(v.get('p99_us'), 0, ' µs')} | "
            f"{fmt(v.get('calls_per_s'))} | {fmt(v.get('cpu_us_per_call'), 0, ' µs')} | "
            f"{fmt(vs_floor, 2, X)} | {fmt(vs_oai, 1, X)} | "
            f"{fmt(v.get('server_cpu_pct'), 0, '%')} |"
        )
    for p in r.get("pending", []):
        lines.append(f"| {p} | pending | | | | | | |")
    return [*lines, ""]


def markdown(results: dict[str, Any], meta: dict[str, Any]) -> str:
    out = [
        f"Run {meta['date']} on {meta['machine']}; Python {meta['python']}, "
        f"{meta['versions']}; nginx {meta['nginx']}; mode: {meta['mode']}; commit "
        f"{meta['commit']}; load average {meta['loadavg_start']:.1f} at the start, "
        f"{meta['loadavg_end']:.1f} at the end (other work on the machine shifts absolute "
        "times; compare ratios within the run).",
        "",
        "**Summary** (medians; in the throughput rows higher is better)",
        "",
        *summary(results),
        "",
        "**The bar** (PERFORMANCE.md)",
        "",
        *bar(results),
        "",
        "**Details.** \u00d7floor: this client's p50 (or calls/s, chunks/s) divided by "
        "http.client's; openai÷this: how many times faster than openai; CPU per call: the "
        "benchmark process's CPU (every thread) per call; server CPU: nginx's share of one "
        "core while that client ran.",
        "",
    ]
    for name, r in results.items():
        if name == "engines":
            out += ["", "**Real engines** (engines_bench.py)", "", *r["table"], ""]
            continue
        out += detail(name, r)
    return "\n".join(out)
