"""The examples a user runs first, end to end against the real Manager: the semantic search
over the real all-MiniLM-L6-v2 on llama.cpp, and the quickstart (what ./scripts/quickstart
runs). The expected top match of each question is asserted, not just that something printed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import Manager

pytest.importorskip("xllamacpp")
models = pytest.importorskip("inferencekey.models")

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

EXPECTED_TOP = {
    "I forgot my login credentials, what do I do?": "To reset your password",
    "When do I get my money back after returning an item?": "Refunds are issued",
    "How long do cats nap?": "Cats sleep for up to sixteen hours",
}


@pytest.fixture(scope="module")
def example_env(manager: Manager) -> dict[str, str]:
    models.minilm_gguf()  # converted once, before the examples time anything
    slug = "examples"
    env = {k: v for k, v in os.environ.items() if not k.startswith("INFERENCEKEY_")}
    env.update(manager.init(slug))
    env["INFERENCEKEY_API_KEY"] = manager.key(slug)
    return env


def run(script: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def top_matches(out: str) -> dict[str, str]:
    """Question -> first match, read back from the printed table."""
    tops: dict[str, str] = {}
    for line in out.splitlines():
        for question in EXPECTED_TOP:
            if line.startswith(question):
                rest = line[len(question) :].split(maxsplit=1)
                score, doc = float(rest[0]), rest[1]
                assert 0.3 < score <= 1.0, line
                tops[question] = doc
    return tops


def test_semantic_search_example_finds_the_right_documents(example_env: dict[str, str]) -> None:
    out = run("semantic_search.py", example_env)
    tops = top_matches(out)
    assert set(tops) == set(EXPECTED_TOP), out
    for question, expected in EXPECTED_TOP.items():
        assert tops[question].startswith(expected), (question, tops[question])


def test_quickstart_end_to_end(example_env: dict[str, str]) -> None:
    out = run("quickstart.py", example_env)
    tops = top_matches(out)
    for question, expected in EXPECTED_TOP.items():
        assert tops[question].startswith(expected), out
    assert "second ensure of the same spec: unchanged" in out, out
    assert "a dry run: would_update" in out, out
    assert "config.command" in out and "description" in out, out
    assert "text [reference engine]: Reference engine (no model loaded)" in out, out
