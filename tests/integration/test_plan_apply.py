"""`inferencekey plan` / `inferencekey apply` as a user runs them in CI: real processes, a real
Manager, spec files in Python, JSON and YAML, Terraform's detailed exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from .conftest import Project

# `serve --dev` runs the reference engine in place of a vllm that is not installed.
COMMAND = "vllm serve m"


def run(
    project: Project, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full = dict(os.environ, **project.env)
    full.pop("INFERENCEKEY_API_KEY", None)
    if env:
        full.update(env)
    return subprocess.run(
        [sys.executable, "-m", "inferencekey", *args],
        env=full,
        capture_output=True,
        text=True,
        timeout=120,
    )


def py_specs(path: Path, slug: str, model: str = "m-1", extra: str = "") -> Path:
    path.write_text(
        "from inferencekey import Backend, WorkloadSpec\n"
        f"bot = WorkloadSpec(name='Bot', slug={slug!r}, model={model!r}, backend=Backend.VLLM,\n"
        f"                   command={COMMAND!r}{extra})\n"
        "_private = WorkloadSpec(name='not me', slug='ignored-private', model='x', backend='vllm')\n"
    )
    return path


def test_plan_then_apply_then_plan_is_clean(project: Project, tmp_path: Path) -> None:
    slug = "plan-" + uuid.uuid4().hex[:8]
    specs = py_specs(tmp_path / "specs.py", slug)

    first = run(project, "plan", str(specs))
    assert first.returncode == 2, first.stderr
    assert f"{slug}: would be created" in first.stdout
    assert '+ model_name: "m-1"' in first.stdout  # a create's plan is its wire body
    assert "ignored-private" not in first.stdout  # underscore names are not specs
    assert "Plan: 1 to create, 0 to update, 0 unchanged." in first.stdout

    applied = run(project, "apply", str(specs), "--wait", "120")
    assert applied.returncode == 0, applied.stderr
    assert f"{slug}: created" in applied.stdout
    assert f"{slug}: ready" in applied.stdout

    again = run(project, "plan", str(specs))
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"{slug}: unchanged" in again.stdout

    # A spec edit is drift: plan shows it (and changes nothing), apply reconciles it.
    py_specs(specs, slug, model="m-2")
    drift = run(project, "plan", str(specs), "--json")
    assert drift.returncode == 2, drift.stderr
    report = json.loads(drift.stdout)
    assert report["exit_code"] == 2
    [entry] = report["workloads"]
    assert entry["action"] == "would_update"
    assert {"field": "model_name", "live": "m-1", "desired": "m-2"} in entry["plan"]
    still = run(project, "plan", str(specs))
    assert still.returncode == 2  # the dry run wrote nothing

    refused = run(project, "apply", str(specs), "--on-drift", "fail")
    assert refused.returncode == 1
    assert "model_name" in refused.stderr
    left = run(project, "apply", str(specs), "--on-drift", "warn")
    assert left.returncode == 0, left.stderr
    assert f"{slug}: drifted, left alone" in left.stdout

    done = run(project, "apply", str(specs))
    assert done.returncode == 0, done.stderr
    assert f"{slug}: updated (1 changes)" in done.stdout
    assert '~ model_name: "m-1" -> "m-2"' in done.stdout
    assert run(project, "plan", str(specs)).returncode == 0


def test_json_and_yaml_files(project: Project, tmp_path: Path) -> None:
    a, b = ("js-" + uuid.uuid4().hex[:8], "ym-" + uuid.uuid4().hex[:8])
    spec = {"name": "J", "model": "m", "backend": "vllm", "command": COMMAND}
    (tmp_path / "w.json").write_text(json.dumps({"workloads": [dict(spec, slug=a)]}))
    (tmp_path / "w.yaml").write_text(
        f"- name: Y\n  slug: {b}\n  model: m\n  backend: vllm\n  command: {COMMAND}\n"
    )
    for name, slug in (("w.json", a), ("w.yaml", b)):
        planned = run(project, "plan", str(tmp_path / name))
        assert planned.returncode == 2, planned.stderr
        assert f"{slug}: would be created" in planned.stdout
        assert run(project, "apply", str(tmp_path / name)).returncode == 0
        assert run(project, "plan", str(tmp_path / name)).returncode == 0


@pytest.mark.parametrize(
    ("content", "suffix", "message"),
    [
        (
            '[{"name": "x", "slug": "s", "model": "m", "modle": 1}]',
            ".json",
            "unknown field 'modle'",
        ),
        ('[{"name": "x", "model": "m"}]', ".json", "missing required field 'slug'"),
        ("{not json", ".json", "invalid JSON"),
        ("raise RuntimeError('boom')", ".py", "RuntimeError: boom"),
        ("x = 1", ".py", "declares no WorkloadSpec"),
        ("a: b", ".toml", "unknown spec file type"),
        (
            '[{"name": "x", "slug": "s", "model": "m", "backend": "vllm",'
            ' "execution_policy": "fixed", "execution_policy_config": {"replicas": "many"}}]',
            ".json",
            "replicas",
        ),
        (
            '[{"name": "x", "slug": "dup", "model": "m"}, {"name": "y", "slug": "dup", "model": "m"}]',
            ".json",
            "more than once",
        ),
    ],
)
def test_bad_files_exit_1_and_say_why(
    project: Project, tmp_path: Path, content: str, suffix: str, message: str
) -> None:
    path = tmp_path / f"specs{suffix}"
    path.write_text(content)
    for verb in ("plan", "apply"):
        out = run(project, verb, str(path))
        assert out.returncode == 1, (verb, out.stdout, out.stderr)
        assert message in out.stderr, out.stderr


def test_server_errors_exit_1(project: Project, tmp_path: Path) -> None:
    specs = py_specs(tmp_path / "specs.py", "tok-" + uuid.uuid4().hex[:8])
    bad = {"INFERENCEKEY_SDK_TOKEN": "ik_sdk_" + "x" * 40}
    for verb in ("plan", "apply"):
        out = run(project, verb, str(specs), env=bad)
        assert out.returncode == 1, out.stdout
        assert "error" in out.stderr
        assert "x" * 40 not in out.stderr + out.stdout  # the token is never printed
    missing = run(project, "plan", str(tmp_path / "nope.py"))
    assert missing.returncode == 1 and "no such file" in missing.stderr


def test_help_names_the_exit_codes(project: Project) -> None:
    out = run(project, "plan", "--help")
    assert out.returncode == 0
    assert "2: changes" in " ".join(out.stdout.split())
    top = run(project, "--help")
    assert "inferencekey plan FILE" in top.stdout
