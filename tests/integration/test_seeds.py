"""Every Python snippet of the product docs (kept verbatim in tests/integration/seeds), run as written against a real
Manager. Only the placeholders change: `ik_live_...` becomes a real key, `wrk_7Yc2...` a
registered worker, and the hosted base URL the local Manager's; the env vars come from
`inferencekey init --project acme`."""

from __future__ import annotations

import os
import subprocess
import sys
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import Manager, _start

# A snippet that schedules a workload and then calls it runs on a Manager whose schedule clock
# is inside that schedule (INFERENCEKEY_DEV_CLOCK); everywhere else the call would rightly be
# refused with the next start. 02:00:30 UTC on a Tuesday: inside the nightly "0 2 * * *".
INSIDE_THE_SCHEDULE = {"s004_embedding": "2026-12-01T02:00:30Z"}

SNIPPETS = sorted((Path(__file__).parent / "seeds").glob("s*.py"))


@pytest.fixture(scope="module")
def acme(manager: Manager) -> dict[str, str]:
    env = manager.init("acme")
    env["IK_LIVE"] = manager.key("acme")
    env["WORKER"] = manager.worker("gpu-box")
    return env


def _call_mp3(path: Path) -> None:
    """A short real WAV recording (what a caller would upload), named as the docs name it."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\x00\x01" * 1600)


@pytest.fixture
def manager_for(
    request: pytest.FixtureRequest, manager: Manager, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Manager, dict[str, str]]]:
    """The session's Manager, or for a scheduled snippet one on a clock inside its schedule."""
    snippet: Path = request.node.callspec.params["snippet"]
    start = INSIDE_THE_SCHEDULE.get(snippet.stem)
    if start is None:
        yield manager, request.getfixturevalue("acme")
        return
    m = _start(tmp_path_factory.mktemp("scheduled"), {"INFERENCEKEY_DEV_CLOCK": start})
    try:
        env = m.init("acme")
        env["IK_LIVE"] = m.key("acme")
        env["WORKER"] = m.worker("gpu-box")
        yield m, env
    finally:
        m.proc.terminate()
        m.proc.wait(timeout=20)


@pytest.mark.parametrize("snippet", SNIPPETS, ids=lambda p: p.stem)
def test_seed_snippet_runs_as_written(
    snippet: Path, manager_for: tuple[Manager, dict[str, str]], tmp_path: Path
) -> None:
    manager, acme = manager_for
    code = (
        snippet.read_text()
        .replace('"ik_live_..."', repr(acme["IK_LIVE"]))
        .replace('"wrk_7Yc2..."', repr(acme["WORKER"]))
        .replace("https://api.inferencekey.com", manager.url)
    )
    script = tmp_path / snippet.name
    script.write_text(code)
    _call_mp3(tmp_path / "call.mp3")
    env = {k: v for k, v in os.environ.items() if not k.startswith("INFERENCEKEY_")}
    env.update({k: v for k, v in acme.items() if k.startswith("INFERENCEKEY_")})
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert acme["IK_LIVE"] not in result.stdout + result.stderr
    if "generate_text" in code:
        assert "Reference engine (no model loaded)" in result.stdout
    if "audio.speech" in code:
        assert (tmp_path / "out.mp3").read_bytes()[:4] == b"RIFF"
    if "images.generate" in code:
        assert result.stdout.strip().splitlines()[-1].startswith("data:image/png;base64,")
    if "transcriptions" in code:
        # The reference engine says how much audio it heard: the upload reached it whole.
        size = (tmp_path / "call.mp3").stat().st_size
        assert f"heard {size} bytes" in result.stdout
