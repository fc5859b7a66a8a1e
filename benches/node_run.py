"""The Node rows: `python benches/node_run.py [--quick]`.

Starts the benchmarks' fixed-answer nginx (benches/server.py, the same files as the Python
rows from benches/fixtures.py) and runs benches/node/bench.mjs against it: @inferencekey/sdk
vs the `openai` npm client vs a raw undici loop, interleaved in one Node process. Needs the
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


def main() -> int:
    quick = "--quick" in sys.argv
    with tempfile.TemporaryDirectory(prefix="ik-node-bench-") as tmp:
        work = Path(tmp)
        # 50,000 chunks as in the Python rows; fewer in the smoke mode.
        fixtures.write_all(work / "files", 2_000 if quick else 50_000, 16)
        nginx = Nginx(work / "nginx", work / "files")
        try:
            args = ["node", str(HERE / "node" / "bench.mjs"), nginx.base_url]
            return subprocess.call(args + (["--quick"] if quick else []))
        finally:
            nginx.stop()


if __name__ == "__main__":
    raise SystemExit(main())
