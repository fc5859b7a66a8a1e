"""A real local Manager for the integration tests.

One Manager per test session, started the way a user starts it (`inferencekey serve --dev`),
on an ephemeral loopback port with its own data dir. Engines are real child processes (the
reference engine, since no real engine is installed here). Tests bootstrap projects, keys and
workers through the real CLI.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from inferencekey.pytest_plugin import LocalManager, start_manager


def alive(pid: int) -> bool:
    """Whether process `pid` is running: a zombie (left to an init that does not reap) is
    dead."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


@dataclass
class Manager:
    """A Manager the tests started, through the pytest plugin's `start_manager` (the one
    harness every suite uses), with the CLI bootstrap steps the tests need."""

    url: str
    data_dir: Path
    proc: subprocess.Popen[bytes]
    log: Path

    @classmethod
    def of(cls, m: LocalManager) -> Manager:
        assert m.process is not None and m.log is not None
        return cls(m.url, m.data_dir, m.process, m.log)

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, INFERENCEKEY_DATA_DIR=str(self.data_dir))
        result = subprocess.run(
            [sys.executable, "-m", "inferencekey", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"inferencekey {' '.join(args)} exited {result.returncode}: {result.stderr}"
            )
        return result

    def init(self, project: str) -> dict[str, str]:
        """`inferencekey init`: the three exported variables, as a dict."""
        out = self.cli("init", "--project", project).stdout
        lines = [line for line in out.splitlines() if line.strip()]
        assert len(lines) == 3, out
        env = {}
        for line in lines:
            m = re.fullmatch(r"export (\w+)=(.*)", line.strip())
            assert m, line
            env[m.group(1)] = m.group(2).strip("'\"")
        return env

    def key(self, project: str, workload: str | None = None) -> str:
        args = ["key", "create", "--project", project]
        args += ["--workload", workload] if workload else ["--all"]
        out = self.cli(*args).stdout.strip()
        assert out.startswith("ik_live_"), out
        return out

    def worker(self, name: str) -> str:
        out = self.cli("worker", "register", "--name", name).stdout.strip()
        assert out.startswith("wrk_"), out
        return out


STORE_ENV = "INFERENCEKEY_TEST_STORE"


def _postgres_schema_url() -> str:
    """A fresh schema of the INFERENCEKEY_TEST_STORE server, as a URL selecting it."""
    url = os.environ[STORE_ENV].strip()
    schema = "it_" + uuid.uuid4().hex[:12]
    subprocess.run(
        ["psql", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", f"CREATE SCHEMA {schema}"],
        check=True,
        capture_output=True,
    )
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{schema}"


_SCHEMAS: dict[Path, str] = {}


def _store_args(data_dir: Path) -> list[str]:
    """`--store` for a Manager when INFERENCEKEY_TEST_STORE names a PostgreSQL server (a
    postgres:// URL, e.g. from `scripts/postgres start`): each data dir gets a fresh schema of
    it, and a Manager restarted on the same data dir gets the same one back. Unset: the
    default SQLite store in the data dir."""
    if not os.environ.get(STORE_ENV, "").strip():
        return []
    if data_dir not in _SCHEMAS:
        _SCHEMAS[data_dir] = _postgres_schema_url()
    return ["--store", _SCHEMAS[data_dir]]


def _start(data_dir: Path, env: dict[str, str] | None = None) -> Manager:
    return Manager.of(
        start_manager(
            data_dir,
            ["--allow-any-command", *_store_args(data_dir)],
            env=env,
            log=data_dir / "manager-test.log",
        )
    )


@pytest.fixture(scope="session")
def manager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Manager]:
    m = _start(tmp_path_factory.mktemp("manager"))
    yield m
    m.proc.terminate()
    try:
        m.proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        m.proc.kill()


@dataclass
class Project:
    """A fresh project with its env vars, a project-wide data key and a registered worker."""

    slug: str
    env: dict[str, str]
    key: str
    worker_id: str
    manager: Manager


@pytest.fixture(scope="module")
def bootstrapped(manager: Manager) -> Project:
    """One project per test module: bootstrapping runs three CLI processes, and tests keep
    apart by using their own workload slugs."""
    slug = "p-" + uuid.uuid4().hex[:10]
    env = manager.init(slug)
    return Project(slug, env, manager.key(slug), manager.worker("gpu-box-" + slug), manager)


@pytest.fixture
def project(bootstrapped: Project, monkeypatch: pytest.MonkeyPatch) -> Project:
    """The module's project, with its env vars set for this test only."""
    for k, v in bootstrapped.env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("INFERENCEKEY_API_KEY", raising=False)
    return bootstrapped
