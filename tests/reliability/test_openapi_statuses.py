"""The OpenAPI document lists every answer the hardening work added (issue 19): each operation
that can give it names the status, with Retry-After where the Manager always sends one. The
tests that provoke each answer for real also check it against the document
(`documented.assert_documented`); this one holds even where those skip (no tmpfs, say).
"""

from __future__ import annotations

import pytest

from .documented import documented

CREATE = ("POST", "/api/projects/{project}/workloads")
UPDATE = ("PATCH", "/api/workloads/{id}")
DELETE = ("DELETE", "/api/workloads/{id}")
CHAT = ("POST", "/endpoint/{project}/{workload}/v1/chat/completions")
EMBEDDINGS = ("POST", "/endpoint/{project}/{workload}/v1/embeddings")
JOBS = ("POST", "/endpoint/{project}/{workload}/jobs")
BODIES = (CREATE, UPDATE, CHAT, EMBEDDINGS, JOBS)

#: (operation, status, Retry-After required): 408 request_timeout, 413 payload_too_large,
#: 429 job_quota_exceeded, 503 storage_unavailable (and job_queue_full on jobs).
ANSWERS = [
    *[(op, 408, False) for op in BODIES],
    *[(op, 413, False) for op in BODIES],
    (JOBS, 429, True),
    *[(op, 503, True) for op in (CREATE, UPDATE, DELETE, JOBS)],
]


@pytest.mark.parametrize(
    ("op", "status", "retry_after"),
    ANSWERS,
    ids=[f"{op[0]} {op[1]} {status}" for op, status, _ in ANSWERS],
)
def test_the_document_lists_the_hardening_answers(
    op: tuple[str, str], status: int, retry_after: bool
) -> None:
    resp = documented(*op, status)
    if retry_after:
        assert resp["headers"]["Retry-After"]["required"] is True
