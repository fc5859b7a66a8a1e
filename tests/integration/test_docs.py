"""Every code block of the docs site runs, as a reader would run it, against a real local
Manager: each page's Python blocks as one script (later blocks use earlier names) and its bash
blocks as one shell session, in a fresh project with the variables `inferencekey init` prints.
A page whose Python defines tests is run with pytest and the package's plugin. Blocks shown
from the README (`--8<--`) are the README's C and Go snippets, which scripts/test-capi runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import Manager

DOCS = Path(__file__).resolve().parents[2] / "docs"
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```\s*$", re.S | re.M)
RUN = {"python", "bash"}
# Not programs: a terminal transcript, a config file, a diagram.
SHOWN = {"console", "text", "toml", "yaml", "json", "mermaid"}


def pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def blocks(page: Path) -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in FENCE.finditer(page.read_text())]


def test_every_block_is_run_or_shown() -> None:
    for page in pages():
        for lang, _ in blocks(page):
            assert lang in RUN | SHOWN, f"{page.name}: a ```{lang or '(no language)'} block"
    ran = [p for p in pages() if any(lang in RUN for lang, _ in blocks(p))]
    assert len(ran) >= 8, ran


@pytest.mark.parametrize(
    "page",
    [p for p in pages() if any(lang in RUN for lang, _ in blocks(p))],
    ids=lambda p: str(p.relative_to(DOCS)),
)
def test_page_code_runs(page: Path, manager: Manager, tmp_path: Path) -> None:
    project = (
        "docs-" + re.sub(r"[^a-z0-9]+", "-", page.stem.lower())[:20] + "-" + os.urandom(3).hex()
    )
    env = dict(os.environ, INFERENCEKEY_DATA_DIR=str(manager.data_dir))
    env.update(manager.init(project))
    env["INFERENCEKEY_API_KEY"] = manager.key(project)
    env.pop("INFERENCEKEY_TEST_DATA_DIR", None)
    python = "\n\n".join(code for lang, code in blocks(page) if lang == "python")
    bash = "\n".join(code for lang, code in blocks(page) if lang == "bash")
    if python and re.search(r"^def test_", python, re.M):
        (tmp_path / "test_page.py").write_text(python)
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_page.py"]
        env = {k: v for k, v in env.items() if not k.startswith("INFERENCEKEY_")}
        run(cmd, tmp_path, env, page)
    elif python:
        (tmp_path / "page.py").write_text(python)
        run([sys.executable, "page.py"], tmp_path, env, page)
    if bash:
        run(["bash", "-euo", "pipefail", "-c", bash], tmp_path, env, page)


def run(cmd: list[str], cwd: Path, env: dict[str, str], page: Path) -> None:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, (
        f"{page.relative_to(DOCS)}: {' '.join(cmd[:2])} exited {done.returncode}\n"
        f"--- stdout\n{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}"
    )
