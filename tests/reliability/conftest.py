"""Reliability suite fixtures: Managers started the way users start them (and killed the way
machines die), fault proxies, and the figures docs/reliability.md quotes.

Reuses the integration suite's `Manager` handle (CLI bootstrap) but starts its own Managers,
because these tests kill, restart and reconfigure them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from integration.conftest import Manager

from inferencekey.pytest_plugin import start_manager as plugin_start

HERE = Path(__file__).resolve().parent
ENGINE_PROXY = HERE / "engine_proxy.py"
MODEL = "meta-llama/Llama-3.1-8B-Instruct"

#: Figures per area, printed at the end of the run and written to $RELIABILITY_FIGURES.
FIGURES: dict[str, Counter[str]] = {}


def tally(area: str, **counts: int) -> None:
    FIGURES.setdefault(area, Counter()).update(counts)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not FIGURES:
        return
    terminalreporter.section("reliability figures")
    for area in sorted(FIGURES):
        parts = ", ".join(f"{k}={v}" for k, v in sorted(FIGURES[area].items()))
        terminalreporter.write_line(f"{area}: {parts}")
    out = os.environ.get("RELIABILITY_FIGURES")
    if out:
        Path(out).write_text(json.dumps({a: dict(c) for a, c in FIGURES.items()}, indent=2))


def start_manager(
    data_dir: Path,
    *,
    flags: tuple[str, ...] = ("--dev", "--allow-any-command"),
    port: int = 0,
    env: dict[str, str] | None = None,
) -> Manager:
    """`inferencekey serve FLAGS` on `data_dir` (through the plugin's one starter), its
    output beside the data dir, which the Manager creates itself (mode 0700)."""
    m = plugin_start(
        data_dir,
        [f for f in flags if f != "--dev"],
        dev="--dev" in flags,
        port=port,
        env=env,
        log=data_dir.with_name(data_dir.name + "-manager.log"),
    )
    return Manager.of(m)


def stop_manager(m: Manager) -> None:
    if m.proc.poll() is None:
        m.proc.terminate()
        try:
            m.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            m.proc.kill()
            m.proc.wait()


def kill9(m: Manager) -> None:
    m.proc.send_signal(signal.SIGKILL)
    m.proc.wait()


def port_of(m: Manager) -> int:
    return int(m.url.rsplit(":", 1)[1])


def engine_pids(data_dir: Path) -> list[int]:
    """Live processes started by the Manager of `data_dir` (engines carry its tag)."""
    needle = f"INFERENCEKEY_MANAGER_ENGINE={data_dir}".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            env = (entry / "environ").read_bytes()
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Zombies are dead processes waiting to be reaped; they hold no port or memory.
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            continue
        if needle in env.split(b"\0"):
            pids.append(int(entry.name))
    return pids


def keeper_pids(data_dir: Path) -> list[int]:
    """The replica keepers among `engine_pids`: one per running replica's process tree."""
    out = []
    for pid in engine_pids(data_dir):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"__replica-keeper" in cmdline:
            out.append(pid)
    return out


def alive(pid: int) -> bool:
    """True while `pid` is a live process (not a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


@dataclass
class Project:
    slug: str
    sdk_token: str
    key: str
    manager: Manager

    @property
    def url(self) -> str:
        return self.manager.url


def bootstrap(m: Manager, slug: str | None = None) -> Project:
    slug = slug or "r-" + uuid.uuid4().hex[:10]
    env = m.init(slug)
    return Project(slug, env["INFERENCEKEY_SDK_TOKEN"], m.key(slug), m)


@pytest.fixture(scope="session")
def manager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Manager]:
    m = start_manager(tmp_path_factory.mktemp("manager") / "data")
    yield m
    stop_manager(m)


@pytest.fixture(scope="module")
def project(manager: Manager) -> Project:
    return bootstrap(manager)


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Clients here get every setting explicitly; the developer's environment must not leak
    into them."""
    for k in (
        "INFERENCEKEY_BASE_URL",
        "INFERENCEKEY_PROJECT",
        "INFERENCEKEY_SDK_TOKEN",
        "INFERENCEKEY_API_KEY",
    ):
        monkeypatch.delenv(k, raising=False)
