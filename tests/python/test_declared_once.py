"""Each fact of the API has one home in the Rust core; these tests fail when the Python
side's copy of a list (keyword arguments, Workload attributes, exception classes) drifts from
the core's, and check the argument bounds the core owns, as a user meets them."""

from __future__ import annotations

import asyncio
from typing import Any, get_type_hints

import pytest

import inferencekey
from inferencekey import ConfigurationError, DataClient, ManagementClient, ValidationError
from inferencekey import _native as native
from inferencekey import errors as errors_module
from inferencekey.options import (
    CallOptions,
    DataOptions,
    EmbedOptions,
    ForecastOptions,
    JobOptions,
    ManagementOptions,
    RerankOptions,
    TextOptions,
)

KEY = "ik_live_abcdefgh_notarealsecret"
SDK = "ik_sdk_abcdefgh_notarealsecret"
# Nothing listens on port 9 of loopback: no call here may reach a server.
BASE = "http://127.0.0.1:9"


def keys(typed_dict: Any) -> set[str]:
    return set(get_type_hints(typed_dict))


@pytest.mark.parametrize(
    ("typed_dict", "core_type", "positional"),
    [
        (TextOptions, "TextRequest", {"prompt"}),
        (EmbedOptions, "EmbedRequest", {"input"}),
        (RerankOptions, "RerankRequest", {"query", "documents"}),
        (ForecastOptions, "ForecastRequest", {"id", "target", "horizon"}),
        (ManagementOptions, "ManagementSettings", {"project"}),
        (DataOptions, "DataSettings", {"project"}),
        (CallOptions, "CallSettings", {"project"}),
        (CallOptions, "EnsureSettings", {"project", "on_drift"}),
        (CallOptions, "JobCallSettings", set()),
        (JobOptions, "JobRequest", {"kind", "body"}),
    ],
)
def test_keyword_lists_match_the_core(
    typed_dict: Any, core_type: str, positional: set[str]
) -> None:
    # `data` is bytes in Python and base64 (`body_b64`) on the wire.
    wire = {"body_b64" if k == "data" else k for k in keys(typed_dict)}
    assert wire | positional == set(native.core_fields(core_type))


def test_spec_fields_match_the_core() -> None:
    # The dataclass's fields, in order, are the core's WorkloadSpec fields: a field added in
    # the core fails here until the Python spec has it (and the other way round).
    assert list(inferencekey.WorkloadSpec._FIELDS) == native.core_fields("WorkloadSpec")


def test_workload_attributes_match_the_core() -> None:
    assert set(native.workload_fields()) == set(native.core_fields("Workload"))
    for field in native.workload_fields():
        assert hasattr(inferencekey.Workload, field)


def test_every_core_error_kind_has_its_exception_class() -> None:
    table = dict(native.error_classes())
    assert len(table) == 13
    for kind, class_name in table.items():
        cls = getattr(errors_module, class_name)
        assert issubclass(cls, inferencekey.InferenceKeyError), kind
    # Each kind but the catch-all `http` has a class of its own.
    dedicated = [c for k, c in table.items() if k != "http"]
    assert len(set(dedicated)) == len(dedicated)
    assert table["http"] == "InferenceKeyError"


@pytest.mark.parametrize("value", [1e300, float("inf"), -1.0, 0.0])
def test_an_impossible_timeout_names_the_argument(value: float) -> None:
    # Bug: 1e300 overflowed a Duration (a PanicException) instead of a typed error.
    for make in (
        lambda: DataClient("acme", base_url=BASE, api_key=KEY, timeout=value),
        lambda: ManagementClient("acme", base_url=BASE, sdk_token=SDK, read_timeout=value),
    ):
        with pytest.raises(ConfigurationError) as exc:
            make()
        assert exc.value.field in {"timeout", "read_timeout"}
    ep = DataClient("acme", base_url=BASE, api_key=KEY).endpoint("bot")
    with pytest.raises(ConfigurationError) as exc:
        ep.generate_text(prompt="hi", timeout=value)
    assert exc.value.field == "timeout"
    with pytest.raises(ConfigurationError) as exc:
        ep.embed("hi", timeout=value)
    assert exc.value.field == "timeout"


def test_max_retries_is_bounded_in_python_as_in_c() -> None:
    with pytest.raises(ConfigurationError) as exc:
        DataClient("acme", base_url=BASE, api_key=KEY, max_retries=101)
    assert exc.value.field == "max_retries"
    assert "between 0 and 100" in str(exc.value)
    DataClient("acme", base_url=BASE, api_key=KEY, max_retries=100)


def test_post_takes_the_core_call_options() -> None:
    # post() takes **CallOptions, decoded by the core's JobCallSettings (Job.status() shares
    # the same decoding, `per_call`, but needs a server to reach it).
    ep = DataClient("acme", base_url=BASE, api_key=KEY).endpoint("bot")
    with pytest.raises(ConfigurationError) as exc:
        ep.post("/v1/images/generations", {}, timout=1)  # type: ignore[call-arg]
    assert exc.value.field == "timout"
    assert "timeout" in str(exc.value)
    with pytest.raises(ConfigurationError) as exc:
        ep.post("/v1/images/generations", {}, max_retries=1000)
    assert exc.value.field == "max_retries"


def test_unknown_or_mistyped_keywords_are_refused_by_the_core() -> None:
    ep = DataClient("acme", base_url=BASE, api_key=KEY).endpoint("bot")
    with pytest.raises(ValidationError) as exc:
        ep.generate_text(prompt="hi", temprature=0.2)  # type: ignore[call-arg]
    assert exc.value.field == "temprature"
    assert "temperature" in str(exc.value)  # the fix: the list of real names
    with pytest.raises(ValidationError) as exc:
        ep.generate_text(prompt="hi", n="two")  # type: ignore[typeddict-item]
    assert exc.value.field == "n"
    with pytest.raises(ConfigurationError) as exc:
        DataClient("acme", base_url=BASE, api_key=KEY, sdk_token=SDK)  # type: ignore[call-arg]
    assert exc.value.field == "sdk_token"


def test_the_async_api_refuses_the_same_arguments() -> None:
    from inferencekey.aio import AsyncDataClient

    async def main() -> None:
        ep = AsyncDataClient("acme", base_url=BASE, api_key=KEY).endpoint("bot")
        with pytest.raises(ConfigurationError):
            await ep.generate_text(prompt="hi", timeout=1e300)
        with pytest.raises(ValidationError) as exc:
            await ep.generate_text(prompt="hi", logprobs="yes")  # type: ignore[typeddict-item]
        assert exc.value.field == "logprobs"

    asyncio.run(main())
