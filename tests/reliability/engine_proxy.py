"""A workload command: the reference engine behind a fault-injection proxy.

The Manager runs it (allowed by ``--allow-any-command``) as

    python engine_proxy.py --listen {port} --control DIR --model M --task-type T

It starts ``python -m inferencekey engine`` on a private port, then serves the Manager's
``{port}`` through :class:`FaultProxy`, so faults land between the gateway and the engine.
Health checks (``/health``) always pass; only inference routes (``/v1``, ``/forecast``) get
faults.

Cross-process control through files in DIR, so the test and every replica (and every restart
of one) share one plan: ``faults.json`` is a list of fault dicts, popped one per inference
request under an exclusive lock; each request appends a line to ``requests.jsonl``.
"""

from __future__ import annotations

import argparse
import ctypes
import fcntl
import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from faultproxy import Fault, FaultProxy, Request

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """The engine dies with this proxy, as the proxy dies with the Manager."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class FilePlan:
    def __init__(self, control: Path, listen: int) -> None:
        self.faults = control / "faults.json"
        self.log = control / "requests.jsonl"
        self.listen = listen
        self.lock = control / "lock"

    def next_fault(self, req: Request) -> Fault | None:
        with self.lock.open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                queue = json.loads(self.faults.read_text()) if self.faults.exists() else []
                fault = Fault.from_dict(queue.pop(0)) if queue else Fault("pass")
                if queue or self.faults.exists():
                    self.faults.write_text(json.dumps(queue))
                with self.log.open("a") as f:
                    f.write(
                        json.dumps({"port": self.listen, "path": req.path, "fault": fault.kind})
                        + "\n"
                    )
                return fault
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", type=int, required=True)
    ap.add_argument("--control", type=Path, required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--task-type", default="text2text")
    a = ap.parse_args()
    a.control.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    engine = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "inferencekey",
            "engine",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--model",
            a.model,
            "--task-type",
            a.task_type,
        ],
        preexec_fn=_die_with_parent,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if engine.poll() is not None:
                return 1
            time.sleep(0.05)
    plan = FilePlan(a.control, a.listen)
    proxy = FaultProxy(
        f"http://127.0.0.1:{port}",
        paths=("/v1", "/forecast"),
        listen_port=a.listen,
        next_fault=plan.next_fault,
    )

    def stop(*_: object) -> None:
        proxy.close()
        engine.terminate()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    print(f"engine proxy on {a.listen} -> engine on {port}", flush=True)
    return engine.wait()


if __name__ == "__main__":
    sys.exit(main())
