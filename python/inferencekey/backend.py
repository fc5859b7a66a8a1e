"""``inferencekey backend package|publish``: custom backend packages (docs/contract.md §7).

A package is a ``.tar.gz`` with ``manifest.json`` and ``requirements.txt`` at its root, then the
code. ``package`` checks the manifest with the core's rules (the same ones the Manager applies
on publish, so a package that builds is one the Manager takes) and writes a reproducible
archive; ``publish`` uploads it with :meth:`inferencekey.ManagementClient.publish_backend`.

These verbs live in Python, like ``plan``/``apply``, because packaging is the standard
library's ``tarfile`` and publishing is the SDK's own client.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import sys
import tarfile
from collections.abc import Sequence
from pathlib import Path

from inferencekey import _native
from inferencekey.errors import InferenceKeyError

#: Directories and files that are never part of a package: caches, VCS data, virtualenvs.
SKIPPED_NAMES = frozenset({"__pycache__", ".git", ".hg", ".svn", ".venv", "venv", ".mypy_cache"})
SKIPPED_SUFFIXES = (".pyc", ".pyo")

#: The largest package the Manager takes (the core's rule; its publish route refuses bigger
#: uploads).
MAX_PACKAGE_BYTES: int = _native.MAX_PACKAGE_BYTES


class PackageError(Exception):
    """A package directory or archive that cannot be used; the message names the file and,
    for the manifest, the key."""


def check_manifest(text: str, where: str = "manifest.json") -> str:
    """The manifest checked by the core's rules, as JSON with ``slug`` filled in; raises
    :class:`PackageError` naming every bad key."""
    try:
        return _native.check_backend_manifest(text)
    except InferenceKeyError as e:
        raise PackageError(f"{where}: {e}") from None


def _files(root: Path) -> list[Path]:
    out: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_NAMES)
        base = Path(dirpath)
        for d in dirnames:
            if (base / d).is_symlink():
                raise PackageError(
                    f"{base / d}: is a symbolic link; packages hold regular files only"
                )
        for name in sorted(filenames):
            if name in SKIPPED_NAMES or name.endswith(SKIPPED_SUFFIXES):
                continue
            path = base / name
            if path.is_symlink() or not path.is_file():
                raise PackageError(
                    f"{path}: is not a regular file (a link or device); packages hold "
                    "regular files only"
                )
            out.append(path)
    return out


def package(directory: str | os.PathLike[str], output: str | os.PathLike[str]) -> dict[str, str]:
    """Writes ``directory`` as a package at ``output``; returns the checked manifest.

    The archive is reproducible (sorted members, zeroed times and owners), so the same
    directory gives the same bytes and the same SHA-256."""
    root = Path(directory)
    if not root.is_dir():
        raise PackageError(f"{root}: not a directory")
    manifest_path = root / "manifest.json"
    if not manifest_path.is_file():
        raise PackageError(
            f"{root}: has no manifest.json; write one with the keys name, version, task_type, "
            'requires_python, entrypoint ("module:Class") and sdk_protocol ("1")'
        )
    if not (root / "requirements.txt").is_file():
        raise PackageError(
            f"{root}: has no requirements.txt; add one (it may be empty) listing the "
            "package's pip requirements"
        )
    manifest_json = check_manifest(manifest_path.read_text(encoding="utf-8"), str(manifest_path))
    manifest = json.loads(manifest_json)
    module = manifest["entrypoint"].partition(":")[0].split(".")[0]
    if not ((root / f"{module}.py").is_file() or (root / module / "__init__.py").is_file()):
        raise PackageError(
            f"{manifest_path}: entrypoint: module {module!r} is not in {root} "
            f"(expected {module}.py or {module}/__init__.py)"
        )
    out = Path(output)
    out_resolved = out.resolve()
    buf = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for path in _files(root):
            if path.resolve() == out_resolved:
                continue
            rel = path.relative_to(root).as_posix()
            data = manifest_json.encode() if rel == "manifest.json" else path.read_bytes()
            info = tarfile.TarInfo(rel)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
    if buf.tell() > MAX_PACKAGE_BYTES:
        raise PackageError(
            f"{root}: the package is {buf.tell()} bytes; the limit is {MAX_PACKAGE_BYTES}"
        )
    out.write_bytes(buf.getvalue())
    return dict(manifest)


def read_package(path: str | os.PathLike[str]) -> tuple[bytes, str]:
    """A package's bytes and its ``manifest.json`` text, for publishing."""
    p = Path(path)
    try:
        archive = p.read_bytes()
    except OSError as e:
        raise PackageError(f"{p}: {e.strerror}") from None
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
            try:
                member = tar.getmember("manifest.json")
            except KeyError:
                raise PackageError(
                    f"{p}: has no manifest.json at its root; build it with "
                    "`inferencekey backend package DIR -o FILE`"
                ) from None
            f = tar.extractfile(member)
            if f is None:
                raise PackageError(f"{p}: manifest.json is not a regular file")
            text = f.read().decode("utf-8")
    except (tarfile.TarError, OSError, EOFError) as e:
        raise PackageError(f"{p}: not a .tar.gz package ({e})") from None
    return archive, text


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="inferencekey backend")
    sub = parser.add_subparsers(dest="command", required=True)
    pk = sub.add_parser("package", help="build a custom backend package (.tar.gz)")
    pk.add_argument("dir", help="the directory with manifest.json, requirements.txt and code")
    pk.add_argument("-o", "--output", help="the archive to write (default <slug>-<version>.tar.gz)")
    pb = sub.add_parser("publish", help="publish a package to the Manager")
    pb.add_argument("file", help="the .tar.gz made by `inferencekey backend package`")
    pb.add_argument("--tenant", help="the tenant (default $INFERENCEKEY_TENANT, else tnt_local)")
    pb.add_argument("--json", action="store_true", help="print the answer as JSON")
    ls = sub.add_parser("list", help="the tenant's published backends")
    ls.add_argument("--tenant", help="the tenant (default $INFERENCEKEY_TENANT, else tnt_local)")
    ls.add_argument("--json", action="store_true", help="print the answer as JSON")
    return parser


def main(argv: Sequence[str]) -> int:
    """``inferencekey backend ...``; returns the exit code (0 ok, 1 error, 2 usage)."""
    args = _parser().parse_args(list(argv))
    try:
        if args.command == "package":
            output = args.output
            if output is None:
                text = (Path(args.dir) / "manifest.json").read_text(encoding="utf-8")
                m = json.loads(check_manifest(text))
                output = f"{m['slug']}-{m['version']}.tar.gz"
            manifest = package(args.dir, output)
            print(f"packaged {manifest['slug']} {manifest['version']} -> {output}")
            return 0
        from inferencekey.clients import ManagementClient

        with ManagementClient() as client:
            if args.command == "publish":
                answer = client.publish_backend(args.file, args.tenant)
                if args.json:
                    print(json.dumps(answer, indent=2))
                else:
                    print(
                        f"published {answer['slug']} {answer['version']} "
                        f"({answer['size_bytes']} bytes, sha256 {answer['sha256'][:12]}…)"
                    )
            else:
                rows = client.list_backends(args.tenant)
                if args.json:
                    print(json.dumps(rows, indent=2))
                else:
                    for r in rows:
                        print(f"{r['slug']}\t{r['version']}\t{r['task_type']}\t{r['sha256'][:12]}")
            return 0
    except (PackageError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except InferenceKeyError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


__all__ = ["MAX_PACKAGE_BYTES", "PackageError", "check_manifest", "main", "package", "read_package"]
