"""Idle sockets cannot starve real requests (issue 19, finding 8).

Before: no header or idle timeout and no connection limit; 1,050 idle unauthenticated
sockets at the common 1,024-fd soft limit made real requests time out. The Manager here is
started with that soft limit (the hard limit stays higher, as on most machines): it raises
its own limit, serves real requests while 1,100 idle sockets are open, and closes a socket
that sends nothing within its header timeout.
"""

from __future__ import annotations

import contextlib
import resource
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from inferencekey import Backend, DataClient, ManagementClient, WorkloadSpec

from .conftest import MODEL, bootstrap, start_manager, stop_manager, tally

IDLE = 1100
SOFT = 1024


@contextlib.contextmanager
def soft_fd_limit(n: int) -> Iterator[None]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (n, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def open_files_limit(pid: int) -> int:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    raise AssertionError("no open-files limit")


def test_idle_sockets_do_not_starve_real_requests(tmp_path: Path) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < IDLE * 2 + 512:
        pytest.skip(f"the hard fd limit ({hard}) is too low to hold {IDLE} idle sockets here")
    with soft_fd_limit(SOFT):
        m = start_manager(tmp_path / "data", flags=("--dev", "--header-timeout", "2"))
    idle: list[socket.socket] = []
    try:
        assert open_files_limit(m.proc.pid) == hard, "the Manager did not raise its fd limit"
        p = bootstrap(m)
        ManagementClient(p.slug, base_url=m.url, sdk_token=p.sdk_token).ensure(
            WorkloadSpec(name="w", slug="w", model=MODEL, backend=Backend.VLLM)
        )
        ep = DataClient(p.slug, base_url=m.url, api_key=p.key, read_timeout=10).endpoint("w")
        ep.generate_text(prompt="warm", max_tokens=1)
        host, port = m.url.removeprefix("http://").split(":")
        for _ in range(IDLE):
            s = socket.create_connection((host, int(port)))
            idle.append(s)
        served = sum(bool(ep.generate_text(prompt="real", max_tokens=2).text) for _ in range(20))
        assert served == 20
        # A socket that sends nothing is closed by the Manager after its header timeout.
        probe = idle[0]
        probe.settimeout(15)
        started = time.monotonic()
        assert probe.recv(1) == b"", "the idle socket was not closed"
        tally(
            "connections",
            idle_sockets=IDLE,
            soft_limit_at_start=SOFT,
            real_requests_ok=served,
            idle_closed_after_s=round(time.monotonic() - started),
        )
    finally:
        for s in idle:
            s.close()
        stop_manager(m)
