"""The pytest plugin as a user meets it: `pytest` run in a directory of their own that holds
only their test file, with nothing but the installed package; then no stray process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from .conftest import Manager

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pytest_plugin"


def _inferencekey_processes() -> set[tuple[int, str]]:
    """(pid, command line) of every live process started from this package's CLI or engine."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "inferencekey" in cmdline and "pytest" not in cmdline:
            found.add((int(entry.name), cmdline))
    return found


def _run_user_pytest(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    user_dir = tmp_path / "my_app_tests"
    shutil.copytree(EXAMPLE, user_dir)
    env = {k: v for k, v in os.environ.items() if not k.startswith("INFERENCEKEY_")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=user_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_plugin_starts_a_manager_and_leaves_nothing_behind(tmp_path: Path) -> None:
    before = _inferencekey_processes()
    done = _run_user_pytest(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 passed" in done.stdout
    stray = _inferencekey_processes() - before
    assert not stray, f"processes left running after the session: {stray}"


def test_plugin_uses_a_running_manager(manager: Manager, tmp_path: Path) -> None:
    done = _run_user_pytest(tmp_path, "--inferencekey-data-dir", str(manager.data_dir))
    assert done.returncode == 0, done.stdout + done.stderr
    assert manager.proc.poll() is None  # an attached Manager is left running


def test_plugin_names_a_missing_manager(tmp_path: Path) -> None:
    done = _run_user_pytest(tmp_path, "--inferencekey-data-dir", str(tmp_path / "nothing"))
    assert done.returncode != 0
    assert "no running local Manager" in done.stdout + done.stderr
