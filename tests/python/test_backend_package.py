"""`inferencekey backend package`: the archive it writes and the errors it gives, without a
Manager (the manifest rules are the core's, through the native module)."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

from inferencekey.backend import PackageError, main, package, read_package

MANIFEST = {
    "name": "Echo Box",
    "version": "1.0",
    "task_type": "text2text",
    "requires_python": ">=3.9",
    "entrypoint": "echo:Echo",
    "sdk_protocol": "1",
}


def make(root: Path, **manifest: object) -> Path:
    root.mkdir()
    (root / "echo.py").write_text("x = 1\n")
    (root / "requirements.txt").write_text("")
    (root / "manifest.json").write_text(json.dumps(MANIFEST | manifest))
    (root / "__pycache__").mkdir()
    (root / "__pycache__" / "echo.cpython-311.pyc").write_bytes(b"\0")
    return root


def test_the_archive_is_reproducible_and_carries_the_checked_manifest(tmp_path: Path) -> None:
    src = make(tmp_path / "src")
    a, b = tmp_path / "a.tar.gz", tmp_path / "b.tar.gz"
    assert package(src, a)["slug"] == "echo-box"
    package(src, b)
    assert a.read_bytes() == b.read_bytes()
    with tarfile.open(a) as tar:
        assert tar.getnames() == ["echo.py", "manifest.json", "requirements.txt"]
    archive, manifest = read_package(a)
    assert archive == a.read_bytes()
    assert json.loads(manifest)["slug"] == "echo-box"


def test_errors_name_the_key_or_the_file(tmp_path: Path) -> None:
    src = make(tmp_path / "bad", task_type="chat", cpu_only="yes")
    with pytest.raises(PackageError) as e:
        package(src, tmp_path / "x.tar.gz")
    assert "task_type" in str(e.value) and "cpu_only" in str(e.value)

    src = make(tmp_path / "nomodule", entrypoint="missing:Thing")
    with pytest.raises(PackageError, match="module 'missing' is not in"):
        package(src, tmp_path / "x.tar.gz")

    src = make(tmp_path / "link")
    (src / "passwd").symlink_to("/etc/passwd")
    with pytest.raises(PackageError, match="not a regular file"):
        package(src, tmp_path / "x.tar.gz")

    with pytest.raises(PackageError, match=r"no manifest\.json at its root"):
        other = tmp_path / "other.tar.gz"
        with tarfile.open(other, "w:gz") as tar:
            tar.add(src / "echo.py", arcname="echo.py")
        read_package(other)


def test_the_cli_exits_1_with_the_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = make(tmp_path / "src", sdk_protocol="9")
    assert main(["package", str(src), "-o", str(tmp_path / "x.tar.gz")]) == 1
    assert "sdk_protocol" in capsys.readouterr().err
    src2 = make(tmp_path / "ok")
    out = tmp_path / "ok.tar.gz"
    assert main(["package", str(src2), "-o", str(out)]) == 0
    assert out.is_file()
