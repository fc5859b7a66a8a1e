"""A user's test file: the `inferencekey` pytest plugin (installed with the package) starts a
local Manager for the session; the tests ensure a workload and call it.

Run it from this directory with nothing but the installed package:

    pytest examples/pytest_plugin -q
"""

from __future__ import annotations

from inferencekey import (
    Backend,
    DataClient,
    ManagementClient,
    NotFoundError,
    OnDrift,
    WorkloadSpec,
)

SPEC = WorkloadSpec(
    name="Support bot",
    slug="support-bot",
    model="meta-llama/Llama-3.1-8B-Instruct",
    backend=Backend.VLLM,
    command="vllm serve meta-llama/Llama-3.1-8B-Instruct --max-model-len 8192",
)


def test_ensure_is_idempotent(ik_management_client: ManagementClient) -> None:
    first = ik_management_client.ensure(SPEC)
    again = ik_management_client.ensure(SPEC)
    assert first.action in ("created", "unchanged")
    assert again.action == "unchanged"
    assert again.workload_id == first.workload_id


def test_the_bot_answers(
    ik_management_client: ManagementClient, ik_data_client: DataClient
) -> None:
    ik_management_client.ensure(SPEC)
    ik_management_client.wait_until_ready(SPEC.slug, timeout=120)
    answer = ik_data_client.endpoint(SPEC.slug).generate_text(prompt="Hola", max_tokens=20)
    assert answer.text


def test_drift_is_previewed_not_applied(ik_management_client: ManagementClient) -> None:
    ik_management_client.ensure(SPEC)
    edited = SPEC.replace(model="meta-llama/Llama-3.2-3B-Instruct")
    preview = ik_management_client.ensure(edited, OnDrift.DRY_RUN)
    assert preview.action == "would_update"
    assert [field for field, _, _ in preview.plan] == ["model_name"]
    # The dry run wrote nothing: the live workload still matches the original spec.
    assert ik_management_client.ensure(SPEC, OnDrift.DRY_RUN).action == "unchanged"


def test_from_env_works_inside_ik_env(ik_env: dict[str, str]) -> None:
    mgmt = ManagementClient.from_env()
    try:
        mgmt.get("no-such-workload")
    except NotFoundError as e:
        assert e.status == 404
    else:
        raise AssertionError("expected NotFoundError")
