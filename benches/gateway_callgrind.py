"""Instructions the Manager spends per proxied call, counted by callgrind (issue 17).

    python benches/gateway_callgrind.py [--calls N] [--tokens T] [--out DIR]

Starts ``inferencekey serve --dev`` under ``valgrind --tool=callgrind`` with one reference-engine
workload (the gateway scenario's), warms it up, then for each kind of call zeroes the
Manager's counters (``callgrind_control -z``), sends N calls with the gateway scenario's
http.client code on one kept-alive connection, and dumps them (``callgrind_control -d``). An
idle interval of the same length is dumped too and subtracted, so the Manager's own timers
(health checks, the reconciler) are not counted against the calls. Instruction counts do not
depend on the machine's load, unlike the wall-clock rows of ``scripts/bench``; the engine runs
outside valgrind and is not counted.

Prints instructions per chat and per stream, and writes the dumps to DIR (default
``target/callgrind``) for ``callgrind_annotate``. With ``--native`` the Manager runs without
valgrind and the Manager's own CPU time per call is measured instead (the sum of its threads'
``/proc/<pid>/task/*/schedstat`` run time across the calls, the same idle interval
subtracted): the machine's load moves it less than it moves latency.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from manager_bench import PROMPT, Plain
from server import children

from inferencekey import ManagementClient, WorkloadSpec


def cli(data: Path, *args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "inferencekey", *args],
        capture_output=True,
        text=True,
        env=dict(os.environ, INFERENCEKEY_DATA_DIR=str(data)),
        check=True,
    )
    return out.stdout


def total(dump: Path) -> int:
    """The `summary:` (or `totals:`) instruction count of one callgrind dump."""
    for line in dump.read_text().splitlines():
        m = re.match(r"(?:summary|totals): (\d+)", line)
        if m:
            return int(m.group(1))
    raise SystemExit(f"no totals in {dump}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=400)
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--out", type=Path, default=Path("target/callgrind"))
    ap.add_argument("--native", action="store_true", help="no valgrind: CPU time per call")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for old in args.out.glob("cg.out*"):
        old.unlink()

    with tempfile.TemporaryDirectory(prefix="ik-callgrind-") as tmp:
        data = Path(tmp, "manager")
        log = open(Path(tmp, "manager.log"), "wb")  # noqa: SIM115
        under = (
            []
            if args.native
            else ["valgrind", "--tool=callgrind", f"--callgrind-out-file={args.out / 'cg.out'}"]
        )
        proc = subprocess.Popen(
            [
                *under,
                sys.executable,
                "-m",
                "inferencekey",
                "serve",
                "--port",
                "0",
                "--data-dir",
                str(data),
                "--dev",
                "--allow-any-command",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            run(args, data, proc)
        finally:
            for pid in children(proc.pid):
                subprocess.run(["kill", str(pid)], check=False)
            proc.terminate()
            proc.wait(timeout=120)


def run(args: argparse.Namespace, data: Path, proc: subprocess.Popen[bytes]) -> None:
    address = data / "address"
    deadline = time.monotonic() + 600
    while not (address.exists() and address.read_text().strip()):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("the Manager did not start under valgrind")
        time.sleep(0.2)
    url = address.read_text().strip()
    env = {}
    for line in cli(data, "init", "--project", "gw").splitlines():
        if line.startswith("export "):
            k, v = line[len("export ") :].split("=", 1)
            env[k] = v.strip("'\"")
    key = cli(data, "key", "create", "--project", "gw", "--all").strip().splitlines()[-1]
    mc = ManagementClient("gw", base_url=url, sdk_token=env["INFERENCEKEY_SDK_TOKEN"])
    command = (
        f"{sys.executable} -m inferencekey engine --host {{host}} --port {{port}} "
        "--model bench-model --task-type text2text"
    )
    mc.ensure(
        WorkloadSpec(name="chat", slug="chat", model="bench-model", backend="vllm", command=command)
    )
    mc.wait_until_ready("chat", 600, progress=False)
    gw = Plain(url, "/endpoint/gw/chat/v1/chat/completions", key)
    for _ in range(50):
        gw.chat()
    for _ in range(10):
        chunks = sum(1 for _ in gw.stream(PROMPT, args.tokens))

    dumps = iter(range(1, 1000))

    def cpu_ns() -> int:
        """Run time of every thread of the Manager so far, in nanoseconds."""
        n = 0
        for task in Path(f"/proc/{proc.pid}/task").iterdir():
            with contextlib.suppress(OSError):
                n += int((task / "schedstat").read_text().split()[0])
        return n

    def measure(op: object, n: int) -> tuple[int, float]:
        if args.native:
            before = cpu_ns()
        else:
            subprocess.run(
                ["callgrind_control", "-z", str(proc.pid)], check=True, capture_output=True
            )
        start = time.monotonic()
        for _ in range(n):
            op()  # type: ignore[operator]
        took = time.monotonic() - start
        if args.native:
            return cpu_ns() - before, took
        subprocess.run(["callgrind_control", "-d", str(proc.pid)], check=True, capture_output=True)
        return total(args.out / f"cg.out.{next(dumps)}"), took

    n = args.calls
    chat_ir, chat_s = measure(gw.chat, n)
    idle_ir, _ = measure(lambda: time.sleep(chat_s / n), n)
    stream_ir, stream_s = measure(lambda: sum(1 for _ in gw.stream(PROMPT, args.tokens)), n)
    idle2_ir, _ = measure(lambda: time.sleep(stream_s / n), n)
    unit = "cpu_ns" if args.native else "instructions"
    out: dict[str, object] = {
        "calls": n,
        "chunks_per_stream": chunks,
        f"{unit}_per_chat": round((chat_ir - idle_ir) / n),
        f"{unit}_per_stream": round((stream_ir - idle2_ir) / n),
        f"idle_{unit}_per_chat_interval": round(idle_ir / n),
        "loadavg": os.getloadavg()[0],
    }
    if not args.native:
        out["dumps"] = {"chat": "cg.out.1", "idle": "cg.out.2", "stream": "cg.out.3"}
    print(json.dumps(out, indent=2))
    (args.out / "summary.json").write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
