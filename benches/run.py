"""Runs the benchmarks of PERFORMANCE.md and writes benches/results/<stamp>.{json,md}.

Use ``scripts/bench`` (it builds the release wheel into .venv-bench and installs the peers);
this file assumes that environment. ``--quick`` is the CI smoke mode: every scenario with few
calls and short streams; it checks the harness works and asserts nothing about time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import fixtures  # noqa: E402
import report  # noqa: E402
from server import Nginx, find_nginx  # noqa: E402

FIXED = [
    "chat",
    "embed",
    "embed_b64",
    "threads",
    "asyncio",
    "asyncio_seq",
    "sse",
    "ttfc",
    "sse_memory",
    "import",
]
MANAGER = ["ensure", "gateway", "agent"]
# Real llama.cpp behind the Manager (engines_bench.py).
ENGINES = ["engines"]

FULL = {
    "rounds": 10,
    "calls": 400,
    "warmup": 50,
    "threads": 32,
    "per_thread": 40,
    "stream_chunks": 50_000,
    "stream_rounds": 5,
    "short_chunks": 16,
    "ttfc_calls": 200,
    "import_runs": 30,
    "ensure_workloads": 10_000,
    "ensure_calls": 200,
    "gateway_calls": 400,
    "gateway_stream_tokens": 64,
}
QUICK = {
    "rounds": 2,
    "calls": 20,
    "warmup": 3,
    "threads": 32,
    "per_thread": 2,
    "stream_chunks": 2_000,
    "stream_rounds": 1,
    "short_chunks": 16,
    "ttfc_calls": 10,
    "import_runs": 2,
    "ensure_workloads": 30,
    "ensure_calls": 10,
    "gateway_calls": 20,
    "gateway_stream_tokens": 16,
}


def run_scenario(name: str, cfg: dict[str, Any], work: Path) -> dict[str, Any]:
    cfg_path, out_path = work / f"{name}.cfg.json", work / f"{name}.out.json"
    cfg_path.write_text(json.dumps(cfg))
    script = (
        "manager_bench.py"
        if name in MANAGER
        else "engines_bench.py"
        if name in ENGINES
        else "scenarios.py"
    )
    load = os.getloadavg()[0]
    t0 = time.monotonic()
    subprocess.run(
        [sys.executable, str(HERE / script), name, str(cfg_path), str(out_path)], check=True
    )
    print(f"  {name}: {time.monotonic() - t0:.1f} s", file=sys.stderr)
    result = json.loads(out_path.read_text())
    result["loadavg_before"] = load
    return result


def versions() -> str:
    out = []
    for pkg in ("inferencekey", "openai", "httpx", "pydantic"):
        try:
            out.append(f"{pkg} {metadata.version(pkg)}")
        except metadata.PackageNotFoundError:
            out.append(f"{pkg} (not installed)")
    return ", ".join(out)


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({model}), Linux {platform.release()}"


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE
        )
        return out.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="smoke mode for CI")
    ap.add_argument(
        "--only",
        help=f"comma-separated scenarios (default: all): {', '.join(FIXED + MANAGER + ENGINES)}",
    )
    ap.add_argument("--out", type=Path, default=HERE / "results", help="where results go")
    args = ap.parse_args()

    wanted = FIXED + MANAGER + ENGINES
    if args.only:
        wanted = [s.strip() for s in args.only.split(",") if s.strip()]
        unknown = [s for s in wanted if s not in FIXED + MANAGER + ENGINES]
        if unknown:
            ap.error(
                f"unknown scenario(s) {unknown}; known: {', '.join(FIXED + MANAGER + ENGINES)}"
            )
    sizes = dict(QUICK if args.quick else FULL)
    nginx_version = (
        subprocess.run([find_nginx(), "-v"], capture_output=True, text=True)
        .stderr.strip()
        .split("/")[-1]
    )
    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": machine(),
        "python": platform.python_version(),
        "versions": versions(),
        "nginx": nginx_version,
        "mode": "quick (smoke, not for comparison)" if args.quick else "full",
        "commit": git_commit(),
        "sizes": sizes,
        "loadavg_start": os.getloadavg()[0],
    }
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="ik-bench-") as tmp:
        work = Path(tmp)
        fixed = [s for s in wanted if s in FIXED]
        if fixed:
            fixtures.write_all(work / "files", sizes["stream_chunks"], sizes["short_chunks"])
            nginx = Nginx(work / "nginx", work / "files")
            try:
                cfg = dict(sizes, base_url=nginx.base_url, server_pids=nginx.pids)
                print(f"fixed-answer server: nginx at {nginx.base_url}", file=sys.stderr)
                for name in fixed:
                    results[name] = run_scenario(name, cfg, work)
            finally:
                nginx.stop()
        for name in (s for s in wanted if s in MANAGER + ENGINES):
            results[name] = run_scenario(name, dict(sizes), work)

    meta["loadavg_end"] = os.getloadavg()[0]
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S") + ("-quick" if args.quick else "")
    md = report.markdown(results, meta)
    (args.out / f"{stamp}.json").write_text(
        json.dumps({"meta": meta, "results": results}, indent=1)
    )
    (args.out / f"{stamp}.md").write_text(md + "\n")
    print(md)
    print(f"\nwrote {args.out / stamp}.json and .md", file=sys.stderr)


if __name__ == "__main__":
    main()
