"""``inferencekey plan`` and ``inferencekey apply``: ``ensure()`` over a file of specs.

The rest of the CLI is the Manager's, in Rust; these two live in Python because a spec file
may be a Python module, which only Python can load. Every rule they apply (validation, the
diff, what counts as drift) is the core's: ``plan`` is ``ensure(spec, OnDrift.DRY_RUN)`` per
workload and ``apply`` is ``ensure(spec, on_drift)``.

Exit codes follow Terraform's ``-detailed-exitcode``, so CI can gate on them:

* ``plan``: 0 when every workload matches its spec, 2 when something would change, 1 on error.
* ``apply``: 0 when every workload was ensured, 1 when any failed (the others still run).

A spec file is one of:

* a Python module (``.py``): its ``SPECS`` (or ``specs``) iterable if it has one, else every
  module-level :class:`~inferencekey.WorkloadSpec`, in definition order;
* JSON (``.json``) or YAML (``.yaml``/``.yml``, needs PyYAML): one spec object, a list of them,
  or ``{"workloads": [...]}``, with the fields of ``WorkloadSpec``.
"""

from __future__ import annotations

import argparse
import json
import runpy
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO

from inferencekey.enums import OnDrift
from inferencekey.errors import InferenceKeyError
from inferencekey.spec import WorkloadSpec

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2


class SpecFileError(Exception):
    """A spec file that cannot be read; the message names the file and, where it can, the
    entry and field."""


def _entries(data: Any, path: Path) -> list[Any]:
    if isinstance(data, dict) and "workloads" in data:
        data = data["workloads"]
    if isinstance(data, dict):
        return [data]
    if isinstance(data, list):
        return data
    raise SpecFileError(
        f"{path}: expected a spec object, a list of spec objects or "
        f'{{"workloads": [...]}}, got {type(data).__name__}'
    )


def _spec_from_mapping(entry: Any, where: str) -> WorkloadSpec:
    if isinstance(entry, WorkloadSpec):
        return entry
    if not isinstance(entry, dict):
        raise SpecFileError(f"{where}: expected a spec object, got {type(entry).__name__}")
    unknown = sorted(set(entry) - set(WorkloadSpec._FIELDS))
    if unknown:
        raise SpecFileError(
            f"{where}: unknown field {unknown[0]!r}; the fields are {', '.join(WorkloadSpec._FIELDS)}"
        )
    missing = [f for f in ("name", "slug", "model") if f not in entry]
    if missing:
        raise SpecFileError(f"{where}: missing required field {missing[0]!r}")
    return WorkloadSpec(**entry)


def _python_specs(path: Path) -> list[WorkloadSpec]:
    try:
        namespace = runpy.run_path(str(path), run_name="__inferencekey_specs__")
    except SystemExit as e:
        raise SpecFileError(f"{path}: the module called sys.exit({e.code})") from None
    except Exception as e:  # the user's module: any error is theirs to see, with its type
        raise SpecFileError(f"{path}: importing it raised {type(e).__name__}: {e}") from e
    declared = namespace.get("SPECS", namespace.get("specs"))
    if declared is not None:
        if not isinstance(declared, Iterable):
            raise SpecFileError(f"{path}: SPECS must be an iterable of WorkloadSpec")
        items = list(declared)
        for i, item in enumerate(items):
            if not isinstance(item, WorkloadSpec):
                raise SpecFileError(
                    f"{path}: SPECS[{i}] is a {type(item).__name__}, not a WorkloadSpec"
                )
        return items
    return [
        v for k, v in namespace.items() if not k.startswith("_") and isinstance(v, WorkloadSpec)
    ]


def load_specs(path: Path) -> list[WorkloadSpec]:
    """The specs a file declares; :class:`SpecFileError` says what is wrong with it."""
    if not path.is_file():
        raise SpecFileError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".py":
        specs = _python_specs(path)
    elif suffix in (".json", ".yaml", ".yml"):
        text = path.read_text(encoding="utf-8")
        if suffix == ".json":
            try:
                data = json.loads(text)
            except json.JSONDecodeError as e:
                raise SpecFileError(f"{path}: invalid JSON: {e}") from None
        else:
            try:
                import yaml  # type: ignore[import-untyped]
            except ImportError:
                raise SpecFileError(
                    f"{path}: reading YAML needs PyYAML: pip install pyyaml (or use JSON)"
                ) from None
            try:
                data = yaml.safe_load(text)
            except yaml.YAMLError as e:
                raise SpecFileError(f"{path}: invalid YAML: {e}") from None
        specs = [
            _spec_from_mapping(entry, f"{path}: workload {i}")
            for i, entry in enumerate(_entries(data, path))
        ]
    else:
        raise SpecFileError(f"{path}: unknown spec file type {suffix!r}; use .py, .json, .yaml")
    if not specs:
        raise SpecFileError(f"{path}: declares no WorkloadSpec")
    slugs = [s.slug for s in specs]
    dupes = sorted({s for s in slugs if slugs.count(s) > 1})
    if dupes:
        raise SpecFileError(f"{path}: slug {dupes[0]!r} is declared more than once")
    return specs


def _value(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False, sort_keys=True)


def _print_plan(ref: Any, out: TextIO) -> None:
    sign = "+" if ref.action == "would_create" else "~"
    for field, live, want in ref.plan:
        if ref.action == "would_create":
            print(f"    {sign} {field}: {_value(want)}", file=out)
        else:
            print(f"    {sign} {field}: {_value(live)} -> {_value(want)}", file=out)


_WORDS = {
    "would_create": "would be created",
    "would_update": "would be updated",
    "unchanged": "unchanged",
    "created": "created",
    "updated": "updated",
    "drifted": "drifted, left alone",
}


def _client(project: str | None) -> Any:
    from inferencekey.clients import ManagementClient

    return ManagementClient.from_env(project=project)


def plan(
    specs: Sequence[WorkloadSpec], project: str | None, out: TextIO, err: TextIO
) -> tuple[int, list[dict[str, Any]]]:
    """Dry-runs ``ensure()`` for each spec and prints what would change."""
    mgmt = _client(project)
    counts = {"would_create": 0, "would_update": 0, "unchanged": 0}
    failed = 0
    report: list[dict[str, Any]] = []
    for spec in specs:
        try:
            ref = mgmt.ensure(spec, OnDrift.DRY_RUN)
        except InferenceKeyError as e:
            failed += 1
            print(f"{spec.slug}: error: {e}", file=err)
            report.append({"slug": spec.slug, "error": str(e), "code": e.code, "field": e.field})
            continue
        counts[ref.action] = counts.get(ref.action, 0) + 1
        changes = f" ({len(ref.plan)} changes)" if ref.action == "would_update" else ""
        print(f"{ref.workload_slug}: {_WORDS.get(ref.action, ref.action)}{changes}", file=out)
        _print_plan(ref, out)
        report.append(
            {
                "slug": ref.workload_slug,
                "action": ref.action,
                "plan": [{"field": f, "live": a, "desired": b} for f, a, b in ref.plan],
            }
        )
    print(
        f"Plan: {counts['would_create']} to create, {counts['would_update']} to update, "
        f"{counts['unchanged']} unchanged" + (f", {failed} failed." if failed else "."),
        file=out,
    )
    if failed:
        return EXIT_ERROR, report
    return (EXIT_CHANGES if counts["would_create"] or counts["would_update"] else EXIT_OK), report


def apply(
    specs: Sequence[WorkloadSpec],
    project: str | None,
    on_drift: OnDrift,
    wait: float | None,
    out: TextIO,
    err: TextIO,
) -> tuple[int, list[dict[str, Any]]]:
    """Ensures each spec and prints what happened; a failure does not stop the others."""
    mgmt = _client(project)
    failed = 0
    report: list[dict[str, Any]] = []
    for spec in specs:
        try:
            ref = mgmt.ensure(spec, on_drift)
            changes = f" ({len(ref.plan)} changes)" if ref.plan else ""
            print(f"{ref.workload_slug}: {_WORDS.get(ref.action, ref.action)}{changes}", file=out)
            _print_plan(ref, out)
            entry: dict[str, Any] = {
                "slug": ref.workload_slug,
                "action": ref.action,
                "workload_id": ref.workload_id,
                "plan": [{"field": f, "live": a, "desired": b} for f, a, b in ref.plan],
            }
            if wait is not None:
                mgmt.wait_until_ready(ref.workload_slug, timeout=wait, project=spec.project)
                print(f"{ref.workload_slug}: ready", file=out)
                entry["ready"] = True
            report.append(entry)
        except InferenceKeyError as e:
            failed += 1
            print(f"{spec.slug}: error: {e}", file=err)
            report.append({"slug": spec.slug, "error": str(e), "code": e.code, "field": e.field})
    print(
        f"Apply: {len(specs) - failed} ensured" + (f", {failed} failed." if failed else "."),
        file=out,
    )
    return (EXIT_ERROR if failed else EXIT_OK), report


def _parser(verb: str) -> argparse.ArgumentParser:
    what = (
        "print the changes ensure() would make, changing nothing (exit 0: none, 2: changes, 1: error)"
        if verb == "plan"
        else "ensure every workload of the file and print what happened (exit 0, or 1 on any error)"
    )
    p = argparse.ArgumentParser(prog=f"inferencekey {verb}", description=what)
    p.add_argument("file", type=Path, help="specs: a Python module, JSON or YAML")
    p.add_argument(
        "--project",
        help="project slug for specs that name none (default: INFERENCEKEY_PROJECT)",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    if verb == "apply":
        p.add_argument(
            "--on-drift",
            default="reconcile",
            help="reconcile (default), fail, warn, ignore or dry_run, as for ensure()",
        )
        p.add_argument(
            "--wait",
            type=float,
            metavar="SECONDS",
            help="after ensuring each workload, wait until it is ready",
        )
    return p


def main(verb: str, argv: Sequence[str]) -> int:
    """``inferencekey plan|apply ...``; returns the exit code."""
    args = _parser(verb).parse_args(list(argv))
    human = sys.stderr if args.json else sys.stdout
    try:
        specs = load_specs(args.file)
        for spec in specs:
            spec.validate()
    except SpecFileError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_ERROR
    except InferenceKeyError as e:
        print(f"error: {args.file}: {e}", file=sys.stderr)
        return EXIT_ERROR
    try:
        if verb == "plan":
            code, report = plan(specs, args.project, human, sys.stderr)
        else:
            try:
                mode = OnDrift(args.on_drift)
            except ValueError:
                print(
                    f"error: --on-drift {args.on_drift!r}: use one of "
                    "reconcile, fail, warn, ignore, dry_run",
                    file=sys.stderr,
                )
                return EXIT_ERROR
            code, report = apply(specs, args.project, mode, args.wait, human, sys.stderr)
    except InferenceKeyError as e:  # the client itself could not be made (token, URL)
        print(f"error: {e}", file=sys.stderr)
        return EXIT_ERROR
    if args.json:
        json.dump({"exit_code": code, "workloads": report}, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    return code


__all__ = ["EXIT_CHANGES", "EXIT_ERROR", "EXIT_OK", "SpecFileError", "load_specs", "main"]
