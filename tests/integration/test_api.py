"""The API as the core declares it, through a real Manager and engine: the generate_text
parameters every binding gets from the core's TextRequest, typed workloads, and the
regressions of issue 11 (deadlines resolved once in the transport, drift warned once)."""

from __future__ import annotations

import asyncio
import logging
import uuid
import warnings
from typing import Any

import pytest

from inferencekey import (
    Backend,
    DataClient,
    DriftWarning,
    Endpoint,
    ManagementClient,
    OnDrift,
    TimeoutError,
    ValidationError,
    Workload,
    WorkloadSpec,
)
from inferencekey.aio import AsyncDataClient

from .conftest import Project


def spec(slug: str, **overrides: Any) -> WorkloadSpec:
    fields: dict[str, Any] = {
        "name": slug,
        "slug": slug,
        "model": "meta-llama/Llama-3.1-8B-Instruct",
        "backend": Backend.VLLM,
        "command": "vllm serve meta-llama/Llama-3.1-8B-Instruct",
    }
    fields.update(overrides)
    return WorkloadSpec(**fields)


@pytest.fixture
def chat(project: Project) -> Endpoint:
    slug = "api-" + uuid.uuid4().hex[:6]
    ManagementClient.from_env().ensure(spec(slug))
    return DataClient.from_env().endpoint(slug, api_key=project.key)


NEW_PARAMETERS: dict[str, Any] = {
    "frequency_penalty": 0.5,
    "presence_penalty": -0.5,
    "logprobs": True,
    "n": 1,
    "user": "end-user-42",
}


def test_new_parameters_reach_the_engine(chat: Endpoint) -> None:
    out = chat.generate_text(prompt="Hola", max_tokens=4, **NEW_PARAMETERS)
    assert out.text
    # The engine answers `logprobs` only when it received `logprobs: true`.
    assert out.raw["choices"][0]["logprobs"] == {"content": []}
    plain = chat.generate_text(prompt="Hola", max_tokens=4)
    assert plain.raw["choices"][0]["logprobs"] is None
    chunks = list(chat.generate_text_stream(prompt="Hola", max_tokens=4, **NEW_PARAMETERS))
    assert "".join(c.text for c in chunks)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("frequency_penalty", 3.0),
        ("presence_penalty", -3.0),
        ("n", 2),
        ("user", "u" * 300),
    ],
)
def test_each_new_parameter_is_sent_as_its_own_field(
    chat: Endpoint, field: str, value: Any
) -> None:
    # Out of the engine's range, each is refused by the engine under its own name: proof
    # that the SDK sent it as that body key.
    with pytest.raises(ValidationError) as exc:
        chat.generate_text(prompt="Hola", **{field: value})
    assert exc.value.field == field


def test_new_parameters_async(project: Project, chat: Endpoint) -> None:
    async def main() -> None:
        ep = AsyncDataClient.from_env().endpoint(chat.workload_slug, api_key=project.key)
        out = await ep.generate_text(prompt="Hola", max_tokens=4, **NEW_PARAMETERS)
        assert out.raw["choices"][0]["logprobs"] == {"content": []}
        with pytest.raises(ValidationError) as exc:
            await ep.generate_text(prompt="Hola", n=2)
        assert exc.value.field == "n"
        text = ""
        async for chunk in ep.generate_text_stream(prompt="Hola", **NEW_PARAMETERS):
            text += chunk.text
        assert text

    asyncio.run(main())


def test_a_call_timeout_keeps_the_client_idle_timeout(project: Project, chat: Endpoint) -> None:
    # Bug: Python resolved `timeout=` against the default options, so the call ran with a
    # 30 s idle timeout instead of the client's 1 s. The engine stalls 3 s before answering.
    ep = DataClient.from_env(read_timeout=1).endpoint(chat.workload_slug, api_key=project.key)
    with pytest.raises(TimeoutError) as exc:
        ep.generate_text(prompt="[[ik:slow:3000]] hi", timeout=30)
    assert "read timeout" in str(exc.value)

    async def main() -> None:
        aep = AsyncDataClient.from_env(read_timeout=1).endpoint(
            chat.workload_slug, api_key=project.key
        )
        with pytest.raises(TimeoutError):
            await aep.generate_text(prompt="[[ik:slow:3000]] hi", timeout=30)

    asyncio.run(main())


def test_drift_under_warn_is_reported_once(
    project: Project, caplog: pytest.LogCaptureFixture
) -> None:
    # Bug: the core and Python each logged the drift, in two wordings.
    mgmt = ManagementClient.from_env()
    slug = "warn-" + uuid.uuid4().hex[:6]
    mgmt.ensure(spec(slug))
    caplog.set_level(logging.WARNING, logger="inferencekey")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ref = mgmt.ensure(spec(slug, description="changed"), on_drift=OnDrift.WARN)
    records = [r for r in caplog.records if "drifted" in r.getMessage()]
    assert len(records) == 1
    drift = [w for w in caught if issubclass(w.category, DriftWarning)]
    assert len(drift) == 1
    assert str(drift[0].message) == records[0].getMessage() == ref.warning
    assert "description" in ref.warning


def test_get_and_list_return_typed_workloads(project: Project) -> None:
    mgmt = ManagementClient.from_env()
    slug = "typed-" + uuid.uuid4().hex[:6]
    mgmt.ensure(spec(slug, description="typed"))
    w = mgmt.get(slug)
    assert isinstance(w, Workload)
    assert (w.slug, w.name, w.description) == (slug, slug, "typed")
    assert w.backend == "vllm"
    assert w.model_name == "meta-llama/Llama-3.1-8B-Instruct"
    assert isinstance(w.config, dict) and w.config["command"].startswith("vllm serve")
    assert w.raw["slug"] == slug and w["slug"] == slug
    # Fields this SDK does not model are kept in .raw, not dropped.
    assert set(w.raw) >= {"id", "slug", "config"}
    text = repr(w)
    assert text.startswith("Workload(") and slug in text
    assert "command" not in text and "config" not in text
    with pytest.raises(AttributeError):
        _ = w.no_such_field  # type: ignore[attr-defined]
    # The readiness status moves on between calls: compare what identifies the workload.
    listed = [x for x in mgmt.list() if x.slug == slug]
    assert [(x.id, x.slug, x.config) for x in listed] == [(w.id, w.slug, w.config)]
    assert all(isinstance(x, Workload) for x in listed)
    ref = mgmt.ensure(spec(slug, description="typed"))
    assert isinstance(ref.workload, Workload) and ref.workload.slug == slug
