"""Checks a real answer of the Manager against its OpenAPI document
(the committed copy crates/inferencekey-manager/src/openapi.json of the document the Manager
generates from its code and serves at /api/openapi.json; a Rust test keeps the two equal).

Schemathesis (test_openapi.py) only sees the answers its generated requests provoke; the
hardening answers (408 slow body, 413 body too large, 429 job quota, 503 storage_unavailable)
need a slow socket, a huge body, hundreds of jobs or a full disk. The tests that provoke them
call `assert_documented` on what they got, so an answer the document does not list fails
where it is produced. Needs no schemathesis.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

DOCUMENT = Path(__file__).resolve().parents[2] / "crates/inferencekey-manager/src/openapi.json"


@functools.cache
def document() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(DOCUMENT.read_text())
    return doc


def _resolve(obj: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in obj:
        node: Any = document()
        for part in obj["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        obj = node
    return obj


def documented(method: str, template: str, status: int) -> dict[str, Any]:
    """The documented response of `method template` for exactly `status` (no `4XX` range:
    the point is that the document names the answer)."""
    op = document()["paths"][template][method.lower()]
    resp = op["responses"].get(str(status))
    assert resp is not None, (
        f"{method} {template} answers {status}, which the OpenAPI document does not list "
        f"(it lists {sorted(op['responses'])})"
    )
    return _resolve(resp)


def _accepts_error_body(content: dict[str, Any]) -> bool:
    schema = content.get("application/json", {}).get("schema", {})
    options = schema.get("oneOf", [schema])
    return any(o.get("$ref") == "#/components/schemas/ErrorBody" for o in options)


def assert_documented(
    method: str, template: str, status: int, headers: Mapping[str, str], body: bytes | str
) -> str:
    """Asserts the Manager's answer `status` with `headers` and `body` is what the document
    says for the operation: listed, its required headers present, the documented error
    body. Returns the error code."""
    resp = documented(method, template, status)
    have = {k.lower() for k in headers}
    for name, spec in resp.get("headers", {}).items():
        if spec.get("required"):
            assert name.lower() in have, f"{status} of {method} {template} lacks {name}"
    assert _accepts_error_body(resp.get("content", {})), f"{status} is not an ErrorBody"
    err = json.loads(body)["error"]
    assert isinstance(err["code"], str) and isinstance(err["message"], str), err
    return str(err["code"])
