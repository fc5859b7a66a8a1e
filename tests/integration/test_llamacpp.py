"""Real llama.cpp processes behind the real Manager.

No `llama-server` is installed here, so the Manager runs llama.cpp's own server from the
`xllamacpp` wheel through `inferencekey.llamacpp` with the spec's flags unchanged. Chat and
streaming use a tiny random-weight llama GGUF written by the test (its text is noise; usage
counts and stream framing are real); embeddings use the real all-MiniLM-L6-v2 from its PyPI
package, converted once and cached.
"""

from __future__ import annotations

import math
import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path

import pytest

from inferencekey import Backend, DataClient, ManagementClient, ValidationError, WorkloadSpec

from .conftest import Project

pytest.importorskip("xllamacpp")
models = pytest.importorskip("inferencekey.models")

THREADS = "-t 1 -tb 1"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path: Path = models.tiny_llama_gguf(tmp_path_factory.mktemp("gguf") / "tiny-llama.gguf")
    return path


@pytest.fixture(scope="module")
def minilm() -> Path:
    path: Path = models.minilm_gguf()
    return path


def ensure_llamacpp(slug: str, command: str, task_type: str = "text2text", **extra: object) -> None:
    mgmt = ManagementClient.from_env()
    mgmt.ensure(
        WorkloadSpec(
            name=slug,
            slug=slug,
            model=slug,
            backend=Backend.LLAMACPP,
            command=command,
            task_type=task_type,
            **extra,  # type: ignore[arg-type]
        )
    )
    ready = mgmt.wait_until_ready(slug, timeout=120, progress=False)
    assert ready["phase"] == "ready", ready


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


def test_llama_server_is_not_on_path() -> None:
    # The premise of this module: the Manager must fall back to the packaged launcher.
    assert shutil.which("llama-server") is None


def test_chat_stream_and_openai_client_through_the_gateway(
    project: Project, tiny_model: Path
) -> None:
    slug = "llama-" + uuid.uuid4().hex[:6]
    ensure_llamacpp(slug, f"llama-server -m {tiny_model} -c 512 {THREADS}")
    status = ManagementClient.from_env().get(slug)
    assert "xllamacpp" in str(status.get("status_message")), status

    ep = DataClient.from_env().endpoint(slug, api_key=project.key)
    out = ep.generate_text(prompt="hello", max_tokens=8, temperature=0.0)
    assert out.usage is not None and out.usage["completion_tokens"] == 8
    assert out.finish_reason == "length"
    assert "Reference engine" not in out.text

    with ep.generate_text_stream(prompt="hello", max_tokens=12, temperature=0.0) as stream:
        chunks = list(stream)
    assert [c.finish_reason for c in chunks if c.finish_reason] == ["length"]
    assert len(chunks) >= 2

    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=ep.base_url, api_key=ep.api_key, max_retries=0)
    done = client.chat.completions.create(
        model=slug, messages=[{"role": "user", "content": "hi"}], max_tokens=5
    )
    assert done.usage is not None and done.usage.completion_tokens == 5
    streamed = list(
        client.chat.completions.create(
            model=slug, messages=[{"role": "user", "content": "hi"}], max_tokens=5, stream=True
        )
    )
    assert [c.choices[0].finish_reason for c in streamed if c.choices][-1] == "length"


def test_the_packaged_launcher_runs_under_the_default_allowlist(
    tmp_path: Path, tiny_model: Path
) -> None:
    # The quickstart's Manager: no --allow-any-command. `llama-server …` is an allowed
    # command for the llamacpp backend, and the Manager's own stand-in for it (the launcher
    # from the xllamacpp wheel) must run under the same check, whatever form it takes.
    from inferencekey.pytest_plugin import start_manager

    m = start_manager(tmp_path / "strict", dev=False)
    try:
        p = m.create_project("strict")
        mgmt = ManagementClient(p.slug, base_url=m.url, sdk_token=p.env["INFERENCEKEY_SDK_TOKEN"])
        mgmt.ensure(
            WorkloadSpec(
                name="strict",
                slug="strict",
                model="strict",
                backend=Backend.LLAMACPP,
                command=f"llama-server -m {tiny_model} -c 512 {THREADS}",
            )
        )
        ready = mgmt.wait_until_ready("strict", timeout=120, progress=False)
        assert ready["phase"] == "ready", ready
        ep = DataClient(p.slug, base_url=m.url, api_key=p.data_key).endpoint("strict")
        out = ep.generate_text(prompt="hello", max_tokens=4, temperature=0.0)
        assert out.usage is not None and out.usage["completion_tokens"] == 4
        # Any other program is still refused, naming the field.
        with pytest.raises(ValidationError) as exc:
            mgmt.ensure(
                WorkloadSpec(
                    name="other",
                    slug="other",
                    model="other",
                    backend=Backend.LLAMACPP,
                    command="python3 -c 'print(1)'",
                )
            )
        assert exc.value.field == "config.command", exc.value
    finally:
        m.stop()


PAIRS = [
    ("a kitten", "a cat", "an invoice"),
    ("a kitten is sleeping on a rug", "a cat sits on the mat", "the invoice is due on Friday"),
    (
        "please pay the bill by the end of the week",
        "the invoice is due on Friday",
        "a cat sits on the mat",
    ),
    ("I forgot my login credentials", "how do I reset my password", "a kitten is sleeping"),
]


def test_minilm_embeddings_rank_by_meaning(project: Project, minilm: Path) -> None:
    slug = "minilm-" + uuid.uuid4().hex[:6]
    ensure_llamacpp(
        slug,
        f"llama-server -m {minilm} --embedding --pooling mean -c 512 -b 512 -ub 512 {THREADS}",
        task_type="embedding",
    )
    ep = DataClient.from_env().endpoint(slug, api_key=project.key)
    for query, near, far in PAIRS:
        q, n, f = ep.embed(input=[query, near, far]).embeddings
        assert len(q) == 384
        assert cosine(q, n) > cosine(q, f) + 0.1, (query, cosine(q, n), cosine(q, f))
