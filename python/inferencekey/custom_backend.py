"""Custom backends: the runtime a tenant's package runs on (docs/contract.md §7).

A tenant writes a subclass of :class:`CustomBackend` (``setup()`` once, ``process(input)`` per
job, optionally ``forecast(body)``), packages it with ``inferencekey backend package DIR`` and
publishes it with ``inferencekey backend publish FILE``; workloads then name its slug as their
``backend``. The Manager runs the package's runtime as the workload's engine::

    python -m inferencekey.custom_backend serve --entrypoint module:Class --port N

which serves, on ``127.0.0.1`` only:

* ``GET /healthz``: 503 ``{"status": "loading"}`` until ``setup()`` has returned, then 200
  ``{"status": "ok"}`` (a ``setup()`` that raised stays 503, with its error, and the process
  exits so the Manager's restart policy sees the failure).
* ``GET /meta``: the package's manifest.
* ``POST /process`` with ``{"id": "<non-empty>", "input": {...}}``: 200 ``{"output": {...}}``;
  400 for a bad body or an input ``process`` refuses with ``ValueError``; 500 when ``process``
  fails otherwise; 503 before ready.
* ``POST /forecast``: the §5 forecast body to ``forecast()``; 501 when the class does not
  override it.

Errors are ``{"error": "<text>"}``; bodies over 16 MiB are refused with 413.

The server is the standard library's threading HTTP server, on purpose: the runtime must run in
the package's own virtual environment, whose requirements are the tenant's, so it cannot depend
on anything but the interpreter; one thread per connection lets ``/healthz`` answer while a slow
``setup()`` or ``process()`` runs.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

#: The largest request body the runtime reads (contract §7).
MAX_BODY_BYTES = 16 * 1024 * 1024

#: The runtime protocol a package's manifest must name in ``sdk_protocol``.
SDK_PROTOCOL = "1"


class CustomBackend:
    """The base class of a custom backend. Override :meth:`process` (and :meth:`setup` to load
    a model once, :meth:`forecast` for forecast workloads).

    ``manifest`` is the package's ``manifest.json`` as a dict (empty when run without one).
    """

    def __init__(self, manifest: dict[str, Any] | None = None) -> None:
        self.manifest: dict[str, Any] = dict(manifest or {})

    def setup(self) -> None:
        """Runs once, before the first job; ``/healthz`` answers 503 until it returns."""

    def process(self, input: dict[str, Any]) -> dict[str, Any]:
        """One job: the route's JSON body in, a JSON object out. Raise ``ValueError`` for an
        input the caller got wrong (400); anything else raised is a processing failure (500)."""
        raise NotImplementedError("a CustomBackend must override process(input)")

    def forecast(self, body: dict[str, Any]) -> dict[str, Any]:
        """A §5 forecast request; the default is "not supported" (501)."""
        raise NotImplementedError


def load_entrypoint(entrypoint: str) -> type[CustomBackend]:
    """The class ``module:Class`` names; a clear error when it is malformed or not a
    :class:`CustomBackend`."""
    module_name, sep, class_name = entrypoint.partition(":")
    if not sep or not module_name or not class_name:
        raise ValueError(f"entrypoint {entrypoint!r}: expected 'module:Class'")
    module = importlib.import_module(module_name)
    obj: Any = module
    for part in class_name.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise ValueError(f"entrypoint {entrypoint!r}: {module_name} has no {class_name}")
    if not (isinstance(obj, type) and issubclass(obj, CustomBackend)):
        raise ValueError(
            f"entrypoint {entrypoint!r}: {class_name} is not a subclass of "
            "inferencekey.custom_backend.CustomBackend"
        )
    return obj


class _State:
    """What the handler threads share: the backend and whether ``setup()`` has finished."""

    def __init__(self, backend: CustomBackend) -> None:
        self.backend = backend
        self.ready = threading.Event()
        self.setup_error: str | None = None


def _overrides_forecast(backend: CustomBackend) -> bool:
    return type(backend).forecast is not CustomBackend.forecast


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    # The headers and the body go out in two writes; with Nagle's algorithm on, the second
    # waits for the client's delayed ACK (~40 ms per call on Linux, measured).
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        # One line per request on stderr, which the Manager keeps as the engine's log; bodies
        # (the tenant's data) are never logged.
        sys.stderr.write(f"custom-backend: {format % args}\n")

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, text: str) -> None:
        self._send(status, {"error": text})

    def do_GET(self) -> None:
        state = self.server.state
        if self.path == "/healthz":
            if state.ready.is_set():
                self._send(200, {"status": "ok"})
            elif state.setup_error is not None:
                self._send(503, {"status": "failed", "error": state.setup_error})
            else:
                self._send(503, {"status": "loading"})
        elif self.path == "/meta":
            self._send(200, state.backend.manifest)
        else:
            self._error(404, f"no route GET {self.path}; use /healthz or /meta")

    def _body(self) -> dict[str, Any] | None:
        """The JSON object body, or ``None`` after answering the error."""
        length_header = self.headers.get("Content-Length")
        if length_header is None:
            self.close_connection = True
            self._error(411, "a Content-Length header is required")
            return None
        try:
            length = int(length_header)
        except ValueError:
            self.close_connection = True
            self._error(400, f"bad Content-Length {length_header!r}")
            return None
        if length < 0:
            self.close_connection = True
            self._error(400, f"bad Content-Length {length_header!r}")
            return None
        if length > MAX_BODY_BYTES:
            # The body is not read, so the connection cannot be reused.
            self.close_connection = True
            self._error(413, f"the body is {length} bytes; the limit is {MAX_BODY_BYTES}")
            return None
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw)
        except ValueError as e:
            self._error(400, f"the body is not JSON: {e}")
            return None
        if not isinstance(body, dict):
            self._error(400, f"the body must be a JSON object, got {type(body).__name__}")
            return None
        return body

    def do_POST(self) -> None:
        if self.path not in ("/process", "/forecast"):
            self.close_connection = True
            self._error(404, f"no route POST {self.path}; use /process or /forecast")
            return
        body = self._body()
        if body is None:
            return
        state = self.server.state
        if not state.ready.is_set():
            self._error(503, "the backend is still loading (setup() has not finished)")
            return
        if self.path == "/process":
            self._process(state.backend, body)
        else:
            self._forecast(state.backend, body)

    def _process(self, backend: CustomBackend, body: dict[str, Any]) -> None:
        job_id = body.get("id")
        if not isinstance(job_id, str) or not job_id:
            self._error(400, "field id: a non-empty string is required")
            return
        job_input = body.get("input")
        if not isinstance(job_input, dict):
            self._error(400, "field input: a JSON object is required")
            return
        unknown = sorted(set(body) - {"id", "input"})
        if unknown:
            self._error(400, f"unknown field {unknown[0]!r}; the fields are id, input")
            return
        self._run(lambda: backend.process(job_input), "process")

    def _forecast(self, backend: CustomBackend, body: dict[str, Any]) -> None:
        if not _overrides_forecast(backend):
            self._error(501, "this backend does not support forecast")
            return
        self._run(lambda: backend.forecast(body), "forecast")

    def _run(self, call: Any, what: str) -> None:
        try:
            out = call()
        except ValueError as e:
            self._error(400, f"invalid input: {e}")
            return
        except Exception as e:  # the tenant's code: any failure is a 500 with its type
            self._error(500, f"{what} failed: {type(e).__name__}: {e}")
            return
        if not isinstance(out, dict):
            self._error(500, f"{what} returned {type(out).__name__}; it must return a dict")
            return
        try:
            response = {"output": out} if what == "process" else out
            self._send(200, response)
        except (TypeError, ValueError) as e:
            self._error(500, f"{what} returned a value that is not JSON: {e}")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], state: _State) -> None:
        self.state = state
        super().__init__(address, _Handler)


def make_server(backend: CustomBackend, port: int = 0, host: str = "127.0.0.1") -> _Server:
    """A runtime server for ``backend`` bound (not yet serving) on ``host:port``; port 0 picks
    a free one (``server.server_address[1]``). :func:`start_setup` runs ``setup()``."""
    return _Server((host, port), _State(backend))


def start_setup(server: _Server, on_failure: Any = None) -> threading.Thread:
    """Runs the backend's ``setup()`` in a thread; ``/healthz`` turns 200 when it returns.
    ``on_failure(text)`` is called when it raises."""
    state = server.state

    def run() -> None:
        try:
            state.backend.setup()
        except Exception as e:  # the tenant's code
            state.setup_error = f"setup() failed: {type(e).__name__}: {e}"
            sys.stderr.write(f"custom-backend: {state.setup_error}\n")
            if on_failure is not None:
                on_failure(state.setup_error)
            return
        state.ready.set()

    thread = threading.Thread(target=run, name="custom-backend-setup", daemon=True)
    thread.start()
    return thread


def _read_manifest(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: the manifest must be a JSON object")
    return data


def serve(entrypoint: str, port: int, manifest: Path | None = None, host: str = "127.0.0.1") -> int:
    """Loads the class, serves it on ``host:port`` (loopback) until killed; returns the exit
    code."""
    try:
        cls = load_entrypoint(entrypoint)
        backend = cls(_read_manifest(manifest))
    except Exception as e:  # an import error in the tenant's module reads as what it is
        print(f"error: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    server = make_server(backend, port, host)

    def fail(_: str) -> None:
        # A backend whose setup failed cannot serve: stop, so the Manager sees the exit and its
        # restart policy (and the readiness `error` with the log lines) takes over.
        threading.Thread(target=server.shutdown, daemon=True).start()

    start_setup(server, fail)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 1 if server.state.setup_error is not None else 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m inferencekey.custom_backend serve --entrypoint module:Class --port N``."""
    parser = argparse.ArgumentParser(prog="python -m inferencekey.custom_backend")
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="serve a CustomBackend on 127.0.0.1")
    s.add_argument("--entrypoint", required=True, help="module:Class")
    s.add_argument("--host", default="127.0.0.1", help="loopback only (default 127.0.0.1)")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--manifest", type=Path, default=None, help="the manifest.json /meta serves")
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    manifest = args.manifest
    if manifest is None and Path("manifest.json").is_file():
        manifest = Path("manifest.json")
    return serve(args.entrypoint, args.port, manifest, args.host)


__all__ = [
    "MAX_BODY_BYTES",
    "SDK_PROTOCOL",
    "CustomBackend",
    "load_entrypoint",
    "main",
    "make_server",
    "serve",
    "start_setup",
]

if __name__ == "__main__":
    # Run the imported module, not this `__main__` copy of it: the tenant's class subclasses
    # `inferencekey.custom_backend.CustomBackend`, which is a different object from
    # `__main__.CustomBackend`.
    from inferencekey import custom_backend as _module

    sys.exit(_module.main())
