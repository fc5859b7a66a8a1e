"""The Java row: JavaBench.java (the SDK's Java binding against the JDK's HttpClient) on 32
threads sharing one client, against the same fixed-answer nginx as every other row.

Run by ``scripts/bench-java`` (which builds the jar and finds a JDK 22+):

    python benches/java_bench.py --classpath CP --java JAVA [--quick]

Prints the table and writes ``benches/results/java-<stamp>.json``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import fixtures  # noqa: E402
from server import Nginx, cpu_ns  # noqa: E402

FULL = {"threads": 32, "per_thread": 100, "rounds": 7}
QUICK = {"threads": 32, "per_thread": 5, "rounds": 1}
FLOOR = "JDK HttpClient, platform threads"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--classpath", required=True)
    ap.add_argument("--java", required=True)
    ap.add_argument("--library", help="libinferencekey_capi to load (default: the jar's copy)")
    ap.add_argument("--quick", action="store_true", help="smoke mode: few calls, no timing claims")
    ap.add_argument("--out", type=Path, default=HERE / "results")
    args = ap.parse_args()
    cfg = QUICK if args.quick else FULL

    with tempfile.TemporaryDirectory(prefix="ik-java-bench-") as d:
        work = Path(d)
        files = work / "files"
        fixtures.write_all(files, stream_chunks=16, short_chunks=16)
        nginx = Nginx(work / "nginx", files)
        try:
            cmd = [args.java, "--enable-native-access=ALL-UNNAMED", "-cp", args.classpath]
            if args.library:
                cmd.append(f"-Dinferencekey.library.path={args.library}")
            cmd += [str(HERE / "java" / "JavaBench.java"), nginx.base_url]
            cmd += [str(cfg["threads"]), str(cfg["per_thread"]), str(cfg["rounds"])]
            c0, t0 = cpu_ns(nginx.pids), time.monotonic()
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                raise SystemExit(f"JavaBench failed ({proc.returncode}):\n{proc.stderr}")
            out = proc.stdout
            server_share = (cpu_ns(nginx.pids) - c0) / 1e9 / (time.monotonic() - t0)
        finally:
            nginx.stop()

    result = json.loads(out.strip().splitlines()[-1])
    result["server_cpu_share"] = server_share
    result["mode"] = "quick" if args.quick else "full"
    floor = result["clients"][FLOOR]["calls_per_s"]
    lines = [
        f"{result['threads']} threads x {result['per_thread']} calls per batch, {result['rounds']} "
        f"interleaved rounds; Java {result['java']}; library {result['library']}; nginx used "
        f"{server_share:.0%} of a core over the run; the JDK client retried "
        f"{result['floor_retries']} dropped pooled connection(s)",
        "",
        "| client | calls/s (median) | CPU per call | xfloor (JDK HttpClient) |",
        "|---|---:|---:|---:|",
    ]
    for name, c in result["clients"].items():
        lines.append(
            f"| {name} | {c['calls_per_s']:,.0f} | {c['cpu_us_per_call']:,.0f} µs | "
            f"{c['calls_per_s'] / floor:.2f}x |"
        )
    table = "\n".join(lines)
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (args.out / f"java-{stamp}.json").write_text(json.dumps(result, indent=1))
    (args.out / f"java-{stamp}.md").write_text(table + "\n")


if __name__ == "__main__":
    main()
