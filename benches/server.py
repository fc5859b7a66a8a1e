"""Starting nginx with the fixed answers, and reading how much CPU it used."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import string
import subprocess
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def find_nginx() -> str:
    for candidate in (shutil.which("nginx"), "/usr/sbin/nginx"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise SystemExit("nginx is not installed: run scripts/bench (it installs it with apt-get)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_ns(pids: list[int]) -> int:
    """CPU time (ns) the processes' threads have used so far, from the scheduler's
    accounting of every thread (a multi-threaded server works off its main thread)."""
    total = 0
    for pid in pids:
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except FileNotFoundError:
            continue
        for tid in tasks:
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    total += int(f.read().split()[0])
            except (FileNotFoundError, ProcessLookupError):
                pass
    return total


def children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[1]) == pid:
            out.append(int(entry))
    return out


class Nginx:
    """An nginx serving ``files_dir`` on a free loopback port until ``stop()``."""

    def __init__(
        self,
        run_dir: Path,
        files_dir: Path | None = None,
        workers: int = 1,
        upstream_port: int | None = None,
    ) -> None:
        """Serves the fixed answers in `files_dir`, or, with `upstream_port`, proxies to it."""
        self.run_dir = run_dir
        self.port = free_port()
        run_dir.mkdir(parents=True, exist_ok=True)
        if files_dir is not None:
            # Run as root, nginx drops its workers to `nobody`: they must be able to read
            # the answers (mkdtemp makes directories private).
            for d in {run_dir.parent, files_dir.parent, files_dir}:
                d.chmod(0o755)
            for f in files_dir.iterdir():
                f.chmod(0o644)
        name = "nginx.conf.template" if upstream_port is None else "nginx-proxy.conf.template"
        template = string.Template((HERE / name).read_text())
        conf = template.substitute(
            workers=workers,
            run_dir=run_dir,
            files_dir=files_dir,
            port=self.port,
            upstream_port=upstream_port,
        )
        self.conf = run_dir / "nginx.conf"
        self.conf.write_text(conf)
        self.proc = subprocess.Popen(
            [find_nginx(), "-p", str(run_dir), "-c", str(self.conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                    raise SystemExit(f"nginx did not start: {err}") from None
                time.sleep(0.02)
        # The workers do the serving; the master only supervises.
        self.pids = [self.proc.pid, *children(self.proc.pid)]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
