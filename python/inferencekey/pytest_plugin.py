"""pytest fixtures for code that uses InferenceKey: a real local Manager per test session.

Installed with the package and registered through the ``pytest11`` entry point, so a test
file only asks for the fixtures::

    def test_my_bot(ik_management_client, ik_data_client):
        ref = ik_management_client.ensure(WorkloadSpec(...))
        ...

The fixtures:

``ik_manager`` (session)
    A Manager started once per session (``inferencekey serve --dev``, the reference engine
    standing in for engines that are not installed) in a temporary data dir, stopped with
    its engines at the end. ``--inferencekey-data-dir DIR`` (or ``INFERENCEKEY_TEST_DATA_DIR``)
    uses an already running Manager instead, the one whose data dir that is.
``ik_project`` (session)
    A fresh project on it: ``.slug``, ``.env`` (the ``INFERENCEKEY_*`` variables
    ``inferencekey init`` prints), ``.sdk_token``, ``.base_url``, ``.data_key`` (a
    project-wide ``ik_live_`` key).
``ik_management_client``, ``ik_data_client``, ``ik_data_key``
    Clients for that project, and its data key. ``ik_env`` sets the project's variables
    for one test (``ManagementClient.from_env()`` then works as in production).

Nothing here is imported until a fixture is used: pytest loads the plugin in every session
of an environment that has the package, and most never ask for it.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from inferencekey import DataClient, ManagementClient

_DATA_DIR_ENV = "INFERENCEKEY_TEST_DATA_DIR"
_START_TIMEOUT_S = 60.0


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("inferencekey")
    group.addoption(
        "--inferencekey-data-dir",
        metavar="DIR",
        default=None,
        help=f"use the running local Manager of this data dir instead of starting one "
        f"(default: ${_DATA_DIR_ENV})",
    )
    parser.addini(
        "inferencekey_serve_args",
        type="args",
        default=[],
        help="extra arguments for the `inferencekey serve --dev` the plugin starts "
        "(for example --allow-any-command)",
    )


@dataclass
class LocalManager:
    """A local Manager the fixtures talk to: its URL and data dir, and the CLI bound to it."""

    url: str
    data_dir: Path
    process: subprocess.Popen[bytes] | None
    """``None`` when the Manager was already running (it is left running)."""
    log: Path | None = None
    """Where its output goes, when the plugin started it."""

    def cli(self, *args: str) -> str:
        """Runs ``inferencekey ARGS`` against this Manager; its stdout, or an error with
        its stderr."""
        env = dict(os.environ, INFERENCEKEY_DATA_DIR=str(self.data_dir))
        done = subprocess.run(
            [sys.executable, "-m", "inferencekey", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"`inferencekey {' '.join(args)}` exited {done.returncode}: {done.stderr.strip()}"
            )
        return done.stdout

    def create_project(self, slug: str | None = None) -> Project:
        """A project with an ``ik_sdk_`` token and a project-wide ``ik_live_`` data key."""
        slug = slug or "test-" + uuid.uuid4().hex[:10]
        env: dict[str, str] = {}
        for line in self.cli("init", "--project", slug).splitlines():
            m = re.fullmatch(r"export (\w+)=(.*)", line.strip())
            if m:
                env[m.group(1)] = m.group(2).strip("'\"")
        key = self.data_key(slug)
        return Project(slug=slug, env=env, data_key=key, manager=self)

    def data_key(self, project: str, workload: str | None = None) -> str:
        """A new ``ik_live_`` key for one workload, or for the whole project."""
        scope = ["--workload", workload] if workload else ["--all"]
        return self.cli("key", "create", "--project", project, *scope).strip()

    def stop(self) -> None:
        """Stops a Manager the plugin started (and with it its engines); waits for it."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


@dataclass
class Project:
    slug: str
    env: dict[str, str]
    data_key: str
    manager: LocalManager

    @property
    def sdk_token(self) -> str:
        return self.env["INFERENCEKEY_SDK_TOKEN"]

    @property
    def base_url(self) -> str:
        return self.env.get("INFERENCEKEY_BASE_URL", self.manager.url)

    def __repr__(self) -> str:  # the tokens stay out of test reports
        return f"Project(slug={self.slug!r}, base_url={self.base_url!r})"


def start_manager(
    data_dir: Path,
    extra_args: list[str] | None = None,
    *,
    dev: bool = True,
    port: int = 0,
    env: dict[str, str] | None = None,
    log: Path | None = None,
) -> LocalManager:
    """Starts ``inferencekey serve`` (with ``--dev`` unless ``dev=False``) on ``port`` (0: a
    free loopback port) with ``data_dir``, and returns once it has written its address.

    ``extra_args`` go to ``serve``; ``env`` is added to this process's environment; the
    output goes to ``log`` (default ``DATA_DIR/manager.log``). A stale ``address`` file (a
    Manager killed with ``-9`` leaves it) is removed first, so it is never taken for the new
    Manager's.
    """
    if log is None:
        data_dir.mkdir(parents=True, exist_ok=True)
        log = data_dir / "manager.log"
    else:
        # The Manager creates (and tightens) its data dir itself.
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        log.parent.mkdir(parents=True, exist_ok=True)
    address = data_dir / "address"
    address.unlink(missing_ok=True)
    args = ["serve", *(["--dev"] if dev else []), "--port", str(port), "--data-dir", str(data_dir)]
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "inferencekey", *args, *(extra_args or [])],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
        )
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"the local Manager exited with status {process.returncode}; its log "
                f"({log}):\n{log.read_text(errors='replace')[-4000:]}"
            )
        if address.exists():
            url = address.read_text().strip()
            if url:
                return LocalManager(url=url, data_dir=data_dir, process=process, log=log)
        time.sleep(0.05)
    process.kill()
    process.wait(timeout=10)
    raise RuntimeError(
        f"the local Manager wrote no address within {_START_TIMEOUT_S:.0f} s; its log: {log}"
    )


def attach_manager(data_dir: Path) -> LocalManager:
    """A Manager already running with this data dir (its ``address`` file names it)."""
    address = data_dir / "address"
    if not address.is_file() or not address.read_text().strip():
        raise RuntimeError(
            f"no running local Manager in {data_dir} (no address file); start one with "
            f"`inferencekey serve --data-dir {data_dir}` or drop --inferencekey-data-dir"
        )
    return LocalManager(url=address.read_text().strip(), data_dir=data_dir, process=None)


@pytest.fixture(scope="session")
def ik_manager(request: pytest.FixtureRequest) -> Iterator[LocalManager]:
    """The session's local Manager (started here, or the one named by
    ``--inferencekey-data-dir`` / ``$INFERENCEKEY_TEST_DATA_DIR``)."""
    existing = request.config.getoption("--inferencekey-data-dir") or os.environ.get(_DATA_DIR_ENV)
    if existing:
        yield attach_manager(Path(existing))
        return
    extra: list[str] = list(request.config.getini("inferencekey_serve_args"))
    with tempfile.TemporaryDirectory(prefix="inferencekey-") as tmp:
        manager = start_manager(Path(tmp) / "manager", extra)
        try:
            yield manager
        finally:
            manager.stop()


@pytest.fixture(scope="session")
def ik_project(ik_manager: LocalManager) -> Project:
    """A fresh project on the session's Manager, with its token and a data key."""
    return ik_manager.create_project()


@pytest.fixture
def ik_env(ik_project: Project, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Sets the project's ``INFERENCEKEY_*`` variables (and its data key as
    ``INFERENCEKEY_API_KEY``) for one test."""
    env = dict(ik_project.env, INFERENCEKEY_API_KEY=ik_project.data_key)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def ik_data_key(ik_project: Project) -> str:
    """The project's ``ik_live_`` data-plane key (valid for every workload in it)."""
    return ik_project.data_key


@pytest.fixture
def ik_management_client(ik_project: Project) -> ManagementClient:
    """A ``ManagementClient`` for the project."""
    from inferencekey import ManagementClient

    return ManagementClient(
        ik_project.slug, base_url=ik_project.base_url, sdk_token=ik_project.sdk_token
    )


@pytest.fixture
def ik_data_client(ik_project: Project) -> DataClient:
    """A ``DataClient`` for the project, holding its data key."""
    from inferencekey import DataClient

    return DataClient(
        project=ik_project.slug, base_url=ik_project.base_url, api_key=ik_project.data_key
    )


__all__ = ["LocalManager", "Project", "attach_manager", "start_manager"]
