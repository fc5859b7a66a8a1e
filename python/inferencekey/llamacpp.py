"""``inferencekey-llama-server``: llama.cpp's own server from the ``xllamacpp`` wheel.

The ``llamacpp`` backend runs ``llama-server``. Where none is on PATH, the Manager runs this
launcher instead with the same flags (install it with ``pip install 'inferencekey[llamacpp]'``).
The wheel ships llama.cpp's C++ server as a library without a command-line entry point, so this
maps ``llama-server``'s usual flags onto its parameters and serves until SIGTERM or SIGINT.

Flags it does not know are refused by name rather than ignored: a silently dropped flag would
run a different server than the command says.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

POOLING = ("none", "mean", "cls", "last", "rank")


def parser() -> argparse.ArgumentParser:
    """The subset of ``llama-server``'s flags this launcher maps, with the same spellings."""
    p = argparse.ArgumentParser(
        prog="inferencekey-llama-server",
        description="llama.cpp's server from the xllamacpp wheel, with llama-server's flags",
        allow_abbrev=False,
    )
    p.add_argument("-m", "--model", required=True, help="path of a local GGUF model")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("-c", "--ctx-size", type=int, default=None, dest="ctx_size")
    p.add_argument("-t", "--threads", type=int, default=None)
    p.add_argument("-tb", "--threads-batch", type=int, default=None, dest="threads_batch")
    p.add_argument("-b", "--batch-size", type=int, default=None, dest="batch_size")
    p.add_argument("-ub", "--ubatch-size", type=int, default=None, dest="ubatch_size")
    p.add_argument("-np", "--parallel", type=int, default=None)
    p.add_argument("-n", "--n-predict", type=int, default=None, dest="n_predict")
    p.add_argument("--embedding", "--embeddings", action="store_true", dest="embedding")
    p.add_argument("--pooling", choices=POOLING, default=None)
    p.add_argument("--metrics", action="store_true")
    p.add_argument("-a", "--alias", default=None)
    p.add_argument(
        "-ngl",
        "--n-gpu-layers",
        "--gpu-layers",
        type=int,
        default=None,
        dest="n_gpu_layers",
    )
    p.add_argument("--no-webui", action="store_true", help="accepted; this server has no web UI")
    return p


def params_from(args: argparse.Namespace, xllamacpp: Any) -> Any:
    """``xllamacpp.CommonParams`` for the parsed flags."""
    params = xllamacpp.CommonParams()
    params.model.path = args.model
    params.hostnames = [args.host]
    params.port = args.port
    if args.ctx_size is not None:
        params.n_ctx = args.ctx_size
    if args.threads is not None:
        params.cpuparams.n_threads = args.threads
    if args.threads_batch is not None:
        params.cpuparams_batch.n_threads = args.threads_batch
    if args.batch_size is not None:
        params.n_batch = args.batch_size
    if args.ubatch_size is not None:
        params.n_ubatch = args.ubatch_size
    if args.parallel is not None:
        params.n_parallel = args.parallel
    if args.n_predict is not None:
        params.n_predict = args.n_predict
    if args.n_gpu_layers is not None:
        params.n_gpu_layers = args.n_gpu_layers
    if args.alias is not None:
        params.model_alias = args.alias
    params.embedding = args.embedding
    if args.pooling is not None:
        params.pooling_type = getattr(
            xllamacpp.llama_pooling_type, f"LLAMA_POOLING_TYPE_{args.pooling.upper()}"
        )
    params.endpoint_metrics = args.metrics
    return params


def main(argv: Sequence[str] | None = None) -> None:
    """Parses ``llama-server`` flags, starts the server and blocks until a stop signal."""
    args = parser().parse_args(argv)
    try:
        import xllamacpp  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        print(
            "inferencekey-llama-server needs the xllamacpp wheel: "
            "pip install 'inferencekey[llamacpp]'",
            file=sys.stderr,
        )
        sys.exit(2)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    server = xllamacpp.Server(params_from(args, xllamacpp))
    print(f"llama.cpp server (xllamacpp) listening at {server.listening_address}", flush=True)
    stop.wait()
    # The server's threads end with the process; nothing to flush.


__all__ = ["main", "parser"]

if __name__ == "__main__":
    main()
