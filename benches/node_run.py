"""The Node rows: `python benches/node_run.py [--quick | --perf]`.

Starts the benchmarks' fixed-answer nginx (benches/server.py, the same files as the Python
rows from benches/fixtures.py) and runs benches/node/bench.mjs against it: @inferencekey/sdk
vs the `openai` npm client vs a raw undici loop, interleaved in one Node process. `--perf`
instead counts context switches and CPU time per sequential call of each client with
`perf stat` (benches/node/calls.mjs, 10,000 calls minus a 0-call run). Needs the
package built (`npm run build` in bindings/node; `IK_NODE_PROFILE=release` for timing runs).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import fixtures  # noqa: E402
from server import Nginx  # noqa: E402

CALLS = 10_000


def perf(base_url: str) -> int:
    """Context switches and task-clock per call, for each client, from `perf stat`."""
    script = str(HERE / "node" / "calls.mjs")
    for client in ("inferencekey", "openai", "undici"):
        counts = []
        for n in (0, CALLS):
            out = subprocess.run(
                [
                    "perf",
                    "stat",
                    "-x,",
                    "-e",
                    "context-switches,task-clock",
                    "node",
                    script,
                    base_url,
                    client,
                    str(n),
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stderr
            vals = {}
            for line in out.splitlines():
                parts = line.split(",")
                if len(parts) > 2 and parts[0].replace(".", "").isdigit():
                    vals[parts[2]] = float(parts[0])
            counts.append(vals)
        cs = (counts[1]["context-switches"] - counts[0]["context-switches"]) / CALLS
        ms = (counts[1]["task-clock"] - counts[0]["task-clock"]) / CALLS
        print(f"{client}: {cs:.2f} context switches/call, {ms * 1000:.0f} µs task-clock/call")
    return 0


def main() -> int:
    quick = "--quick" in sys.argv
    with tempfile.TemporaryDirectory(prefix="ik-node-bench-") as tmp:
        work = Path(tmp)
        # 50,000 chunks as in the Python rows; fewer in the smoke mode.
        fixtures.write_all(work / "files", 2_000 if quick else 50_000, 16)
        nginx = Nginx(work / "nginx", work / "files")
        try:
            if "--perf" in sys.argv:
                return perf(nginx.base_url)
            args = ["node", str(HERE / "node" / "bench.mjs"), nginx.base_url]
            return subprocess.call(args + (["--quick"] if quick else []))
        finally:
            nginx.stop()


if __name__ == "__main__":
    raise SystemExit(main())
