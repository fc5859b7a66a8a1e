"""The fixed answers nginx serves: the same bytes for every client.

* ``chat.json`` — one ``chat.completion``.
* ``embed.json`` — ``embeddings`` with 2 vectors of 384 float32 values as JSON floats.
* ``embed-b64.json`` — the same vectors as little-endian float32 in base64, the form our SDK
  and ``openai`` ask for by default (``encoding_format: base64``).
* ``stream.sse`` — ``chat.completion.chunk`` frames ending in ``data: [DONE]``; one for
  throughput, one four times longer (memory must not grow with length), a short one for time
  to first chunk.
"""

from __future__ import annotations

import base64
import json
import random
import struct
from pathlib import Path

MODEL = "bench-model"
EMBED_MODEL = "bench-embed"
DIM = 384
CREATED = 1763900000
WORDS = [" the", " quick", " brown", " fox", " jumps", " over", " a", " lazy", " dog", "."]


def chat_body() -> bytes:
    body = {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": CREATED,
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Hola! Soy un asistente de prueba. ¿En qué puedo ayudarte hoy?",
                },
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 9, "completion_tokens": 17, "total_tokens": 26},
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def _vectors() -> list[list[float]]:
    rng = random.Random(384)
    out = []
    for _ in range(2):
        v = [rng.gauss(0.0, 0.05) for _ in range(DIM)]
        # Round-trip through float32 so both encodings carry exactly the same values.
        out.append(list(struct.unpack(f"<{DIM}f", struct.pack(f"<{DIM}f", *v))))
    return out


def embed_bodies() -> tuple[bytes, bytes]:
    vectors = _vectors()
    usage = {"prompt_tokens": 4, "total_tokens": 4}

    def body(encode) -> bytes:
        data = [
            {"object": "embedding", "index": i, "embedding": encode(v)}
            for i, v in enumerate(vectors)
        ]
        doc = {"object": "list", "data": data, "model": EMBED_MODEL, "usage": usage}
        return json.dumps(doc, separators=(",", ":")).encode()

    # '%.9g' is what float32 needs to round-trip, as real servers print them.
    floats = body(lambda v: [float(f"{x:.9g}") for x in v])
    b64 = body(lambda v: base64.b64encode(struct.pack(f"<{len(v)}f", *v)).decode())
    return floats, b64


def _frame(delta: dict, finish: str | None) -> bytes:
    chunk = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": MODEL,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }
    return b"data: " + json.dumps(chunk, separators=(",", ":")).encode() + b"\n\n"


def sse_body(chunks: int) -> bytes:
    """``chunks`` data frames (role, ``chunks - 2`` words, finish) and ``[DONE]``."""
    assert chunks >= 3
    words = [_frame({"content": w}, None) for w in WORDS]
    parts = [_frame({"role": "assistant", "content": ""}, None)]
    parts.extend(words[i % len(words)] for i in range(chunks - 2))
    parts.append(_frame({}, "stop"))
    parts.append(b"data: [DONE]\n\n")
    return b"".join(parts)


def write_all(directory: Path, stream_chunks: int, short_chunks: int) -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    floats, b64 = embed_bodies()
    files = {
        "chat.json": chat_body(),
        "embed.json": floats,
        "embed-b64.json": b64,
        "stream.sse": sse_body(stream_chunks),
        "stream-long.sse": sse_body(stream_chunks * 4),
        "stream-short.sse": sse_body(short_chunks),
    }
    paths = {}
    for name, data in files.items():
        path = directory / name
        path.write_bytes(data)
        paths[name] = path
    return paths
