"""The pytest plugin as a user meets it: `pytest` run in a directory of their own that holds
only their test file, with nothing but the installed package; then no stray process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from .conftest import Manager

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pytest_plugin"


# Runs a command as a child subreaper: every process it leaves behind, however detached
# (double-forked, setsid), is re-parented to this wrapper, which lists the live ones after
# the command exits. Other developers' or tests' processes on the machine never show up.
_SUBREAPER = """
import ctypes, json, os, subprocess, sys, time
PR_SET_CHILD_SUBREAPER = 36
ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
done = subprocess.run(sys.argv[1:])
stray = []
for _ in range(50):
    stray = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = open(f"/proc/{entry}/stat").read()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == os.getpid():
            if fields[0] == "Z":
                os.waitpid(int(entry), os.WNOHANG)
                continue
            stray.append(open(f"/proc/{entry}/cmdline").read().replace("\\0", " "))
    if not stray:
        break
    time.sleep(0.1)
print("STRAY=" + json.dumps(stray))
sys.exit(done.returncode)
"""


def _run_user_pytest(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    user_dir = tmp_path / "my_app_tests"
    shutil.copytree(EXAMPLE, user_dir)
    env = {k: v for k, v in os.environ.items() if not k.startswith("INFERENCEKEY_")}
    pytest_cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args]
    return subprocess.run(
        [sys.executable, "-c", _SUBREAPER, *pytest_cmd],
        cwd=user_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_plugin_starts_a_manager_and_leaves_nothing_behind(tmp_path: Path) -> None:
    done = _run_user_pytest(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 passed" in done.stdout
    [report] = [line for line in done.stdout.splitlines() if line.startswith("STRAY=")]
    stray = json.loads(report.removeprefix("STRAY="))
    assert stray == [], f"processes left running after the session: {stray}"


def test_plugin_uses_a_running_manager(manager: Manager, tmp_path: Path) -> None:
    done = _run_user_pytest(tmp_path, "--inferencekey-data-dir", str(manager.data_dir))
    assert done.returncode == 0, done.stdout + done.stderr
    assert manager.proc.poll() is None  # an attached Manager is left running


def test_plugin_names_a_missing_manager(tmp_path: Path) -> None:
    done = _run_user_pytest(tmp_path, "--inferencekey-data-dir", str(tmp_path / "nothing"))
    assert done.returncode != 0
    assert "no running local Manager" in done.stdout + done.stderr
