"""The ``inferencekey`` command (``serve``, ``init``, ``key``, ``worker``, ``status``, …).

The CLI is the Manager's, in Rust, except ``plan`` and ``apply`` (:mod:`inferencekey.apply`,
which may load a Python module of specs) and ``backend`` (:mod:`inferencekey.backend`,
custom backend packages); this only hands it the arguments and tells it how to re-run itself (``python -m inferencekey``), which it needs to spawn engine processes from
the same installation.
"""

from __future__ import annotations

import signal
import sys
import threading

from inferencekey import _native


def main() -> None:
    """Runs the CLI with ``sys.argv`` and exits with its status."""
    argv = sys.argv[1:]
    if argv and argv[0] in ("plan", "apply"):
        # Spec files may be Python modules, which only Python can load (see apply.py).
        from inferencekey import apply

        sys.exit(apply.main(argv[0], argv[1:]))
    if argv and argv[0] == "backend":
        # Custom backend packages: the standard library's tarfile and the SDK's own client.
        from inferencekey import backend

        sys.exit(backend.main(argv[1:]))
    if threading.current_thread() is threading.main_thread():
        # Give the Rust CLI the signal handling it has as its own binary: Python's SIGINT
        # handler only sets a flag that nothing checks while Rust runs, so Ctrl-C would be
        # ignored (and then raise KeyboardInterrupt after a graceful shutdown). With the
        # default action, commands that handle SIGINT (`serve`) shut down cleanly and the
        # others stop at once.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
    sys.exit(_native.cli_main(sys.argv[1:], [sys.executable, "-m", "inferencekey"]))


__all__ = ["main"]
