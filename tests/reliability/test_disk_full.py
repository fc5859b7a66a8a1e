"""A full disk is a typed, partial outage, never a silent total one (issue 19, finding 4).

The Manager's data dir and its log live on a real, small tmpfs that the test fills to the
last byte. Before the fix the Manager stayed up but dropped every connection without an
answer (the log writer's failure panicked each request's handler). Now: the OpenAPI
document, reads and the data plane keep working, writes answer 503 `storage_unavailable`
with `Retry-After`, `inferencekey status` says why, and everything recovers once space is
freed. Needs root (or CAP_SYS_ADMIN) to mount; skipped, saying so, where mounting fails.
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from inferencekey import Backend, DataClient, ManagementClient, WorkloadSpec

from .conftest import MODEL, bootstrap, start_manager, stop_manager, tally
from .documented import assert_documented

SIZE = "48m"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    disk = tmp_path / "disk"
    disk.mkdir()
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={SIZE}", "tmpfs", str(disk)],
        capture_output=True,
        text=True,
    )
    if r.returncode != 0:
        pytest.skip(f"cannot mount a {SIZE} tmpfs here (needs root): {r.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(path: Path) -> int:
    """Writes zeros to `path` until the file system has no byte left; returns how many."""
    written = 0
    chunk = b"\0" * (1 << 20)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            try:
                written += os.write(fd, chunk if len(chunk) else b"\0")
            except OSError as e:
                assert e.errno == errno.ENOSPC, e
                if len(chunk) == 1:
                    break
                chunk = chunk[: len(chunk) // 2]
    finally:
        os.close(fd)
    return written


def spec(slug: str) -> WorkloadSpec:
    return WorkloadSpec(
        name=slug, slug=slug, model=MODEL, backend=Backend.VLLM, command=f"vllm serve {MODEL}"
    )


def test_a_full_disk_gives_typed_503s_while_reads_keep_working(small_disk: Path) -> None:
    data = small_disk / "data"
    # Debug logging: every request writes to the log on the full disk.
    m = start_manager(data, env={"RUST_LOG": "debug"})
    filler = small_disk / "filler"
    try:
        p = bootstrap(m)
        mgmt = ManagementClient(p.slug, base_url=m.url, sdk_token=p.sdk_token, max_retries=0)
        mgmt.ensure(spec("before"))
        ep = DataClient(p.slug, base_url=m.url, api_key=p.key).endpoint("before")
        assert ep.generate_text(prompt="hi", max_tokens=2).text
        filled = fill(filler)
        auth = {"Authorization": f"Bearer {p.sdk_token}"}

        # Reads and the data plane keep working.
        assert httpx.get(f"{m.url}/api/openapi.json", timeout=10).status_code == 200
        assert [w["slug"] for w in mgmt.list()] == ["before"]
        for _ in range(20):
            assert ep.generate_text(prompt="still here", max_tokens=2).text
        # Writes are typed 503s the client may retry.
        r = httpx.post(
            f"{m.url}/api/projects/{p.slug}/workloads",
            json={"name": "after", "backend": "vllm", "model_name": MODEL},
            headers=auth,
            timeout=10,
        )
        assert r.status_code == 503, r.text
        code = assert_documented(
            "POST", "/api/projects/{project}/workloads", 503, r.headers, r.content
        )
        assert code == "storage_unavailable", r.text
        assert r.headers["retry-after"]
        wid = mgmt.list()[0]["id"]
        for method, kw in (("PATCH", {"json": {"description": "x"}}), ("DELETE", {})):
            r = httpx.request(
                method, f"{m.url}/api/workloads/{wid}", headers=auth, timeout=10, **kw
            )
            assert r.status_code == 503, (method, r.text)
            code = assert_documented(method, "/api/workloads/{id}", 503, r.headers, r.content)
            assert code == "storage_unavailable", (method, r.text)
        assert [w["slug"] for w in mgmt.list()] == ["before"]
        # The operator is told why.
        status = m.cli("status").stdout
        assert "storage   UNAVAILABLE" in status, status
        assert "full" in status.lower(), status

        # Space comes back: so do writes, and the status says so.
        filler.unlink()
        assert mgmt.ensure(spec("after")).action == "created"
        status = m.cli("status").stdout
        assert "storage   ok" in status, status
    finally:
        filler.unlink(missing_ok=True)
        stop_manager(m)
    tally(
        "disk full",
        filled_mib=filled >> 20,
        reads_ok=24,
        data_plane_ok=20,
        writes_503=3,
        recovered=1,
    )
