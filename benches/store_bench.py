"""The Manager's store: SQLite (the default) against PostgreSQL (``--store postgres://…``).

``python benches/store_bench.py POSTGRES_URL [WORKLOADS] [CALLS]`` starts one Manager per
store (each on a fresh data dir; the PostgreSQL one on a fresh schema of POSTGRES_URL, e.g.
from ``scripts/postgres start``), creates WORKLOADS workloads through the API (creates/s), then
times CALLS unchanged ``ensure()`` calls of one of them in interleaved rounds (calls/s, p50,
p99). Prints a Markdown table.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from manager_bench import Manager, fill, idle_spec

from inferencekey import ManagementClient

ROUNDS = 5


def schema_url(url: str) -> str:
    schema = "bench_" + uuid.uuid4().hex[:12]
    subprocess.run(
        ["psql", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", f"CREATE SCHEMA {schema}"],
        check=True,
        capture_output=True,
    )
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{schema}"


def main() -> None:
    pg = sys.argv[1]
    workloads = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    calls = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    stores = {"SQLite (data dir)": "sqlite", "PostgreSQL (loopback)": schema_url(pg)}
    with tempfile.TemporaryDirectory(prefix="ik-bench-store-") as tmp:
        managers: dict[str, Manager] = {}
        clients: dict[str, ManagementClient] = {}
        creates: dict[str, float] = {}
        try:
            for i, (label, store) in enumerate(stores.items()):
                os.environ["INFERENCEKEY_STORE"] = store
                m = Manager(Path(tmp) / f"m{i}", dev=False)
                managers[label] = m
                env = m.init("bench")
                token = env["INFERENCEKEY_SDK_TOKEN"]
                creates[label] = workloads / fill(m.url, "bench", token, workloads)
                mc = ManagementClient("bench", base_url=m.url, sdk_token=token, max_retries=0)
                assert mc.ensure(idle_spec("target")).action == "created"
                clients[label] = mc
            os.environ.pop("INFERENCEKEY_STORE", None)
            spec = idle_spec("target")
            times: dict[str, list[float]] = {label: [] for label in stores}
            for mc in clients.values():
                for _ in range(20):
                    mc.ensure(spec)
            per_round = max(1, calls // ROUNDS)
            for _ in range(ROUNDS):
                for label, mc in clients.items():
                    for _ in range(per_round):
                        t0 = time.perf_counter()
                        if mc.ensure(spec).action != "unchanged":
                            raise SystemExit("ensure() changed something")
                        times[label].append(time.perf_counter() - t0)
        finally:
            for m in managers.values():
                m.stop()
    print(f"| store | creates/s ({workloads:,} workloads) | ensure() calls/s | p50 | p99 |")
    print("|---|---:|---:|---:|---:|")
    for label, ts in times.items():
        ts.sort()
        p50 = statistics.median(ts)
        p99 = ts[min(len(ts) - 1, int(len(ts) * 0.99))]
        print(
            f"| {label} | {creates[label]:,.0f} | {len(ts) / sum(ts):,.0f} | "
            f"{p50 * 1e6:,.0f} µs | {p99 * 1e6:,.0f} µs |"
        )


if __name__ == "__main__":
    main()
