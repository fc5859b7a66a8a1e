"""The ``inferencekey`` command as users run it: ``python -m inferencekey`` and the console
script, as real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SCRIPT = Path(sys.executable).with_name("inferencekey")


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "inferencekey", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_module_help_lists_the_commands() -> None:
    result = run("--help")
    assert result.returncode == 0, result.stderr
    for command in ("serve", "init", "key", "worker", "status"):
        assert command in result.stdout


@pytest.mark.skipif(not SCRIPT.exists(), reason="console script not installed next to python")
def test_console_script_is_the_same_cli() -> None:
    result = subprocess.run([str(SCRIPT), "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout == run("--help").stdout


def test_usage_error_exits_2() -> None:
    result = run("--no-such-option")
    assert result.returncode == 2
    assert "no-such-option" in result.stderr


def test_status_without_a_manager_says_how_to_start_one(tmp_path: Path) -> None:
    env = dict(os.environ, INFERENCEKEY_DATA_DIR=str(tmp_path))
    result = run("status", env=env)
    assert result.returncode == 1
    assert "no Manager is running" in result.stderr
    assert "inferencekey serve" in result.stderr


def test_serve_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "inferencekey", "serve", "--port", "0", "--data-dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        address = tmp_path / "address"
        deadline = time.monotonic() + 60
        while not (address.exists() and address.read_text().strip()):
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "the Manager did not write its address"
            time.sleep(0.05)
        assert address.read_text().startswith("http://127.0.0.1:")
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, stderr
    assert "KeyboardInterrupt" not in stderr
    assert "listening on http://127.0.0.1:" in stderr
    assert not address.exists()
