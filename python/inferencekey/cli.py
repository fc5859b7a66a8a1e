"""The ``inferencekey`` command (``serve``, ``init``, ``key``, ``worker``, ``status``, …).

The whole CLI is the Manager's, in Rust; this only hands it the arguments and tells it
how to re-run itself (``python -m inferencekey``), which it needs to spawn engine
processes from the same installation.
"""

from __future__ import annotations

import sys

from inferencekey import _native


def main() -> None:
    """Runs the CLI with ``sys.argv`` and exits with its status."""
    sys.exit(_native.cli_main(sys.argv[1:], [sys.executable, "-m", "inferencekey"]))


__all__ = ["main"]
