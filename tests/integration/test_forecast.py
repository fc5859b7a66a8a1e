"""The documented forecast request (contract §5) through the gateway to a `forecast` workload,
as the platform's own clients send it, and its field errors."""

from __future__ import annotations

import uuid

import pytest

from inferencekey import Backend, DataClient, ManagementClient, ValidationError, WorkloadSpec

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
