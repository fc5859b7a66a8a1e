"""The exception hierarchy of docs/contract.md §2, its attributes, and the native mapping from
core errors (through HTTP answers, local validation and undecodable workloads)."""

from __future__ import annotations

import builtins
import json
import pickle

import pytest

import inferencekey
from inferencekey import _native, errors
from inferencekey.errors import (
    AuthError,
    ConfigurationError,
    ConflictError,
    ConnectionError,
    DriftError,
    InferenceKeyError,
    NotFoundError,
    PermissionDenied,
    ProtocolError,
    RateLimitError,
    ServerError,
    TimeoutError,
    ValidationError,
)

ALL = [
    AuthError,
    ConfigurationError,
    ConflictError,
    ConnectionError,
    DriftError,
    NotFoundError,
    PermissionDenied,
    ProtocolError,
    RateLimitError,
    ServerError,
    TimeoutError,
    ValidationError,
]


def test_hierarchy() -> None:
    for cls in ALL:
        assert issubclass(cls, InferenceKeyError)
        assert getattr(inferencekey, cls.__name__) is cls
    assert issubclass(InferenceKeyError, Exception)
    assert issubclass(DriftError, ValidationError)
    assert issubclass(ConnectionError, builtins.ConnectionError)
    assert issubclass(TimeoutError, builtins.TimeoutError)
    # The SDK classes are distinct from the builtins they extend.
    assert ConnectionError is not builtins.ConnectionError
    assert TimeoutError is not builtins.TimeoutError
    assert sorted(errors.__all__) == sorted(c.__name__ for c in [*ALL, InferenceKeyError])


@pytest.mark.parametrize("cls", [*ALL, InferenceKeyError])
def test_attributes_default_and_round_trip(cls: type[InferenceKeyError]) -> None:
    plain = cls("boom")
    assert str(plain) == "boom" == plain.message
    assert (plain.status, plain.code, plain.field, plain.request_id, plain.retry_after) == (
        None,
        None,
        None,
        None,
        None,
    )
    assert plain.problems == []
    full = cls(
        "validation error: x: bad",
        status=429,
        code="rate_limited",
        field="x",
        problems=[("x", "bad")],
        request_id="req_1",
        retry_after=1.5,
    )
    copy = pickle.loads(pickle.dumps(full))
    assert type(copy) is cls
    for obj in (full, copy):
        assert str(obj) == "validation error: x: bad"
        assert obj.status == 429
        assert obj.code == "rate_limited"
        assert obj.field == "x"
        assert obj.problems == [("x", "bad")]
        assert obj.request_id == "req_1"
        assert obj.retry_after == 1.5


def test_builtin_bases_still_behave() -> None:
    err = ConnectionError("connection error: refused", code="connect")
    assert str(err) == "connection error: refused"
    assert err.args == ("connection error: refused",)
    with pytest.raises(OSError):
        raise err
    with pytest.raises(builtins.TimeoutError):
        raise TimeoutError("timed out: read")


def test_drift_error_carries_the_plan() -> None:
    err = DriftError(
        "drift detected: 1 change",
        plan=[("execution_policy_config.max_workers", 3, 5)],
        code="drift",
    )
    assert err.plan == [("execution_policy_config.max_workers", 3, 5)]
    assert err.code == "drift"
    assert pickle.loads(pickle.dumps(err)).plan == err.plan
    assert DriftError("drift detected: x").plan == []


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, ValidationError),
        (422, ValidationError),
        (401, AuthError),
        (403, PermissionDenied),
        (404, NotFoundError),
        (409, ConflictError),
        (429, RateLimitError),
        (500, ServerError),
        (503, ServerError),
        (418, InferenceKeyError),
    ],
)
def test_http_answers_map_to_classes(status: int, cls: type[InferenceKeyError]) -> None:
    body = json.dumps({"error": {"code": "some_code", "message": "it failed", "field": "f.g"}})
    err = _native.error_from_response(status, body, "req_42")
    assert type(err) is cls
    assert err.status == status
    assert err.code == "some_code"
    assert err.field == "f.g"
    assert err.request_id == "req_42"
    assert str(err).endswith(f"it failed (HTTP {status}, request id req_42)")


def test_documented_message_prefixes() -> None:
    def message(status: int, code: str) -> str:
        body = {"error": {"code": code, "message": "details"}}
        return str(_native.error_from_response(status, json.dumps(body)))

    assert message(403, "scope_insufficient").startswith("permission denied [scope_insufficient]: ")
    assert message(401, "unauthenticated").startswith("authentication failed: ")
    assert message(400, "validation_failed").startswith("validation error: ")
    assert message(404, "not_found").startswith("not found: ")


def test_flat_and_raw_error_bodies() -> None:
    flat = _native.error_from_response(403, b'{"error": "wrong_credential_type"}')
    assert isinstance(flat, PermissionDenied)
    assert flat.code == "wrong_credential_type"
    raw = _native.error_from_response(502, "<html>Bad gateway</html>")
    assert isinstance(raw, ServerError)
    assert "Bad gateway" in str(raw)
    with pytest.raises(TypeError):
        _native.error_from_response(500, 42)  # type: ignore[arg-type]


def test_tokens_in_server_messages_are_redacted() -> None:
    secret = "ik_live_proj1234abcd_s3cr3tVALUE"
    body = json.dumps({"error": {"code": "unauthenticated", "message": f"bad key {secret}"}})
    err = _native.error_from_response(401, body)
    assert "s3cr3tVALUE" not in str(err)
    assert "ik_live_proj1234…" in str(err)


def test_local_validation_errors_come_from_the_core() -> None:
    with pytest.raises(ValidationError) as info:
        _native.validate_spec('{"name": "", "slug": "a", "model": "m", "backend": "vllm"}')
    assert info.value.status is None
    assert info.value.problems == [("name", "is required and must not be blank")]
    with pytest.raises(ConfigurationError) as cfg:
        _native.validate_spec('{"name": "a", "slug": "a", "model": "ik_sdk_ab_cd"}')
    assert cfg.value.field == "model"
    assert cfg.value.code == "configuration_error"


def test_undecodable_workload_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError) as info:
        _native.diff('{"name": "a", "slug": "a", "model": "m"}', "not json")
    assert str(info.value).startswith("protocol error: ")
