"""Counts what one sequential call costs our SDK: context switches and CPU per call, from
`perf stat` over N calls minus a run of 0 calls (start-up, import and nginx excluded).

    .venv-bench/bin/python benches/calls_profile.py [--calls 5000] [--record asyncio]

`--record MODE` also writes `perf record -g` of that mode's loop to benches/results/ (read it
with `perf report -i ...`). Modes: `asyncio` (one task, one call after another) and `sync`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import clients as C  # noqa: E402
import fixtures  # noqa: E402
from server import Nginx  # noqa: E402


def run_calls(mode: str, base_url: str, calls: int) -> None:
    routes = C.Routes()
    if mode == "sync":
        c = C.Ours(base_url, routes)
        c.chat()
        for _ in range(calls):
            c.chat()
        return

    async def main() -> None:
        c = C.OursAsync(base_url, routes)
        await c.chat()
        for _ in range(calls):
            await c.chat()

    asyncio.run(main())


def perf_stat(mode: str, base_url: str, calls: int) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("r", suffix=".csv") as out:
        cmd = [
            "perf",
            "stat",
            "-x,",
            "-o",
            out.name,
            "-e",
            "context-switches,task-clock",
            sys.executable,
            __file__,
            "--child",
            mode,
            base_url,
            str(calls),
        ]
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True)
        wall = time.perf_counter() - t0
        got: dict[str, float] = {"wall_s": wall}
        for line in Path(out.name).read_text().splitlines():
            parts = line.split(",")
            if len(parts) > 2 and parts[2] in ("context-switches", "task-clock"):
                got[parts[2]] = float(parts[0])
        return got


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=5000)
    ap.add_argument("--record", choices=["asyncio", "sync"])
    ap.add_argument("--child", nargs=3, metavar=("MODE", "URL", "CALLS"))
    args = ap.parse_args()
    if args.child:
        mode, url, calls = args.child
        run_calls(mode, url, int(calls))
        return
    with tempfile.TemporaryDirectory(prefix="ik-prof-") as tmp:
        work = Path(tmp)
        fixtures.write_all(work / "files", 16, 16)
        nginx = Nginx(work / "nginx", work / "files")
        try:
            print(f"load average {os.getloadavg()[0]:.1f}")
            for mode in ("asyncio", "sync"):
                full = perf_stat(mode, nginx.base_url, args.calls)
                empty = perf_stat(mode, nginx.base_url, 0)
                n = args.calls
                cs = (full["context-switches"] - empty["context-switches"]) / n
                cpu = (full["task-clock"] - empty["task-clock"]) / n * 1000  # ms -> µs
                print(f"{mode}: {cs:.2f} context switches and {cpu:.1f} µs CPU per call")
            if args.record:
                out = HERE / "results" / f"perf-{args.record}-{time.strftime('%H%M%S')}.data"
                out.parent.mkdir(exist_ok=True)
                subprocess.run(
                    [
                        "perf",
                        "record",
                        "-g",
                        "-o",
                        str(out),
                        sys.executable,
                        __file__,
                        "--child",
                        args.record,
                        nginx.base_url,
                        str(args.calls),
                    ],
                    check=True,
                )
                print(f"profile: {out}")
        finally:
            nginx.stop()


if __name__ == "__main__":
    main()
