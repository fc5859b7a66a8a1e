"""Low findings of issue 19 at the level a user meets them: data-dir permissions (15),
escape sequences in `inferencekey status` (16), a stale `manager.json` (18), tokens in the
access log (19) and an unparsable workload row (21).
"""

from __future__ import annotations

import http.server
import json
import os
import socket
import sqlite3
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import httpx
import pytest

from inferencekey import Backend, DataClient, ManagementClient, WorkloadSpec

from .conftest import MODEL, bootstrap, kill9, start_manager, stop_manager, tally


def spec(slug: str, model: str = MODEL) -> WorkloadSpec:
    return WorkloadSpec(
        name=slug, slug=slug, model=model, backend=Backend.VLLM, command=f"vllm serve {model}"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_old_world_readable_data_dir_is_tightened_on_start(tmp_path: Path) -> None:
    data = tmp_path / "data"
    m = start_manager(data)
    p = bootstrap(m)
    ManagementClient(p.slug, base_url=m.url, sdk_token=p.sdk_token).ensure(spec("w"))
    DataClient(p.slug, base_url=m.url, api_key=p.key).endpoint("w").generate_text(
        prompt="x", max_tokens=1
    )
    stop_manager(m)
    # What an older version (or a careless cp -r) leaves: 0755 directories, 0644 files.
    for path in [data, *data.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    m = start_manager(data)
    try:
        loose = [
            str(path)
            for path in [data, *data.rglob("*")]
            if not path.is_symlink() and stat.S_IMODE(path.stat().st_mode) & 0o077
        ]
        assert loose == []
        assert stat.S_IMODE(data.stat().st_mode) == 0o700
        assert stat.S_IMODE((data / "manager.db").stat().st_mode) == 0o600
        logs = list((data / "logs").rglob("*.log"))
        assert logs and all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in logs)
    finally:
        stop_manager(m)
    tally("hygiene", data_dirs_tightened=1)


def test_status_shows_escape_sequences_escaped(tmp_path: Path) -> None:
    m = start_manager(tmp_path / "data")
    try:
        p = bootstrap(m)
        evil = "m\x1b[2J\x1b]0;owned\x07\rX"
        r = httpx.post(
            f"{m.url}/api/projects/{p.slug}/workloads",
            json={"name": "esc", "backend": "vllm", "model_name": evil},
            headers={"Authorization": f"Bearer {p.sdk_token}"},
        )
        if r.status_code == 400:
            # Refused at the door is as good: it never reaches a terminal.
            assert r.json()["error"]["field"] == "model_name"
        else:
            assert r.status_code == 201, r.text
            out = m.cli("status").stdout
            assert "\x1b" not in out and "\r" not in out and "\x07" not in out
            assert "\\u{1b}" in out
    finally:
        stop_manager(m)
    tally("hygiene", escape_sequences_neutralised=1)


class Recorder(http.server.BaseHTTPRequestHandler):
    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        Recorder.seen.append(self.headers.get("Authorization", ""))
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def impostor() -> Iterator[tuple[int, list[str]]]:
    port = free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Recorder)
    Recorder.seen = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield port, Recorder.seen
    server.shutdown()


def test_the_cli_never_sends_the_admin_token_to_a_stale_address(
    tmp_path: Path, impostor: tuple[int, list[str]]
) -> None:
    """After a crash `manager.json` names a port someone else now holds, and its pid may be
    reused. The CLI trusts only the data dir's lock, which died with the Manager."""
    port, seen = impostor
    data = tmp_path / "data"
    m = start_manager(data)
    kill9(m)
    info = json.loads((data / "manager.json").read_text())
    # The worst case: the pid is alive again (here: ours) and the port answers.
    info.update(url=f"http://127.0.0.1:{port}", pid=os.getpid())
    (data / "manager.json").write_text(json.dumps(info))
    r = m.cli("status", check=False)
    assert r.returncode != 0
    assert "no Manager is running" in r.stderr
    assert seen == [], "the CLI called the impostor"
    tally("hygiene", stale_manager_json_refused=1)


def test_tokens_in_the_path_or_request_id_never_reach_the_access_log(tmp_path: Path) -> None:
    m = start_manager(tmp_path / "data")
    try:
        p = bootstrap(m)
        secret = p.key.rsplit("_", 1)[1]
        r = httpx.get(f"{m.url}/endpoint/{p.slug}/w/v1/{p.key}", headers={"X-Request-Id": p.key})
        assert r.headers["x-request-id"] != p.key
        httpx.get(f"{m.url}/api/{p.sdk_token}")
    finally:
        stop_manager(m)
    log = m.log.read_text()
    assert "inferencekey_manager::access" in log
    assert secret not in log
    assert p.sdk_token.rsplit("_", 1)[1] not in log
    tally("hygiene", tokens_kept_out_of_access_log=3)


def test_one_unparsable_workload_row_is_quarantined(tmp_path: Path) -> None:
    data = tmp_path / "data"
    m = start_manager(data)
    p = bootstrap(m)
    mgmt = ManagementClient(p.slug, base_url=m.url, sdk_token=p.sdk_token)
    mgmt.ensure(spec("good"))
    bad_id = mgmt.ensure(spec("bad")).workload_id
    stop_manager(m)
    db = sqlite3.connect(data / "manager.db")
    db.execute("UPDATE workloads SET config = '{broken' WHERE id = ?", (bad_id,))
    db.commit()
    db.close()
    m = start_manager(data)
    try:
        mgmt = ManagementClient(p.slug, base_url=m.url, sdk_token=p.sdk_token)
        assert [w["slug"] for w in mgmt.list()] == ["good"]
        ep = DataClient(p.slug, base_url=m.url, api_key=p.key).endpoint("good")
        assert ep.generate_text(prompt="x", max_tokens=1).text
        out = m.cli("status").stdout
        assert f"QUARANTINED workload {bad_id}" in out, out
    finally:
        stop_manager(m)
    tally("hygiene", quarantined_rows=1, manager_started=1)
