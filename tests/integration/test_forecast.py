"""The documented forecast request (contract §5) through the gateway to a `forecast` workload,
as the platform's own clients send it, and its field errors."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from inferencekey import (
    Backend,
    DataClient,
    Endpoint,
    ForecastResult,
    ManagementClient,
    ValidationError,
    WorkloadSpec,
)
from inferencekey.aio import AsyncDataClient

from .conftest import Project


@pytest.fixture
def forecaster(project: Project) -> object:
    slug = "fc-" + uuid.uuid4().hex[:6]
    mgmt = ManagementClient.from_env()
    mgmt.ensure(
        WorkloadSpec(
            name="Forecast",
            slug=slug,
            model="amazon/chronos-bolt-small",
            backend=Backend.VLLM,
            task_type="forecast",
            command="vllm serve amazon/chronos-bolt-small",
        )
    )
    return DataClient.from_env().endpoint(slug, api_key=project.key)


def test_forecast_shape(forecaster: object) -> None:
    ep = forecaster
    out = ep.post(  # type: ignore[attr-defined]
        "/forecast",
        {
            "id": "sales",
            "target": [10, 12, 11, 13, 12, 14],
            "horizon": 3,
            "timestamps": [f"2026-03-0{d}" for d in range(1, 7)],
            "quantile_levels": [0.1, 0.5, 0.9],
            "return_samples": True,
            "num_samples": 5,
        },
    )
    f = out["forecast"]
    assert len(f["median"]) == 3
    assert f["timestamps"] == ["2026-03-07", "2026-03-08", "2026-03-09"]
    for step in range(3):
        assert (
            f["quantiles"]["0.1"][step] < f["quantiles"]["0.5"][step] < f["quantiles"]["0.9"][step]
        )
    assert len(f["samples"]) == 5 and all(len(s) == 3 for s in f["samples"])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"target": [1, 2], "horizon": 1}, "id"),
        ({"id": "x", "target": [1, True], "horizon": 1}, "target[1]"),
        ({"id": "x", "target": [1, 2], "horizon": 0}, "horizon"),
        (
            {"id": "x", "target": [1, 2], "horizon": 1, "quantile_levels": [1.5]},
            "quantile_levels[0]",
        ),
    ],
)
def test_forecast_errors_name_the_field(
    forecaster: object, body: dict[str, object], field: str
) -> None:
    with pytest.raises(ValidationError) as err:
        forecaster.post("/forecast", body)  # type: ignore[attr-defined]
    assert err.value.status == 400
    assert field in str(err.value)
    assert err.value.field == field


def test_the_typed_forecast_helper(forecaster: object) -> None:
    ep: Endpoint = forecaster  # type: ignore[assignment]
    out = ep.forecast(
        "sales",
        [10, 12, 11, 13, 12, 14],
        3,
        timestamps=[f"2026-03-0{d}" for d in range(1, 7)],
        quantile_levels=[0.1, 0.9],
        past_covariates={"promo": [0, 1, 0, 1, 0, 1]},
        future_covariates={"promo": [0, 1, 0]},
        return_samples=True,
        num_samples=4,
    )
    assert isinstance(out, ForecastResult) and len(out) == 3
    assert out.timestamps == ["2026-03-07", "2026-03-08", "2026-03-09"]
    assert out.quantiles is not None and set(out.quantiles) == {"0.1", "0.9"}
    assert all(
        lo < mid < hi for lo, mid, hi in zip(out.quantiles["0.1"], out.median, out.quantiles["0.9"])
    )
    assert out.samples is not None and len(out.samples) == 4
    # serde_json's default float parsing may differ from Python's in the last bit.
    assert out.raw["forecast"]["median"] == pytest.approx(out.median, rel=1e-15)
    assert out.request_id
    plain = ep.forecast("sales", [1.0, 2.0, 3.0], 2)
    assert len(plain.median) == 2 and plain.samples is None


def test_forecast_helper_errors_name_the_field(forecaster: object) -> None:
    ep: Endpoint = forecaster  # type: ignore[assignment]
    # Types are the core's: caught before any request.
    with pytest.raises(ValidationError) as local:
        ep.forecast("x", [1, True], 1)  # type: ignore[list-item]
    assert (local.value.field, local.value.status) == ("target[1]", None)
    with pytest.raises(ValidationError) as unknown:
        ep.forecast("x", [1, 2], 1, samples=3)  # type: ignore[call-arg]
    assert unknown.value.field == "samples"
    # The series rules are the server's, and its 400 names the field.
    with pytest.raises(ValidationError) as remote:
        ep.forecast("x", [1, 2], 0)
    assert (remote.value.field, remote.value.status) == ("horizon", 400)
    assert remote.value.code == "validation_failed"


def test_the_async_forecast_helper(project: Project, forecaster: object) -> None:
    slug = forecaster.workload_slug  # type: ignore[attr-defined]

    async def main() -> list[float]:
        async with AsyncDataClient.from_env() as data:
            out = await data.endpoint(slug, api_key=project.key).forecast("s", [1, 2, 3], 2)
            return out.median

    assert len(asyncio.run(main())) == 2
