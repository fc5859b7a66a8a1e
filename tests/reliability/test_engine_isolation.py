"""What a tenant's engine sees, and who answers on its port (issue 19, findings 6 and 7).

6. Engines inherited the Manager's whole environment: `INFERENCEKEY_SDK_TOKEN`, `HF_TOKEN`,
   `OPENAI_API_KEY`, ... were all readable by the engine. Here a real workload's engine is a
   script that writes its environment to a file while the Manager runs with a dozen secrets
   in its own: none reaches the engine (by name or by value, in the engine's `os.environ` or
   in `/proc/<pid>/environ` of any process of its tree), and a name the operator passes with
   `--engine-env NAME` does.
7. A local process bound a slow engine's port first and answered `/health`; the workload went
   ready and tenants' prompts went to it. Here an impostor process reads the port from the
   engine's command line (as any local user can), binds it before the engine does and answers
   `/health` and chat completions: the workload never goes ready on it, the readiness log
   says why, the replica is restarted on another port, and no request reaches the impostor.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from inferencekey import Backend, ManagementClient, WorkloadSpec

from .conftest import MODEL, bootstrap, engine_pids, start_manager, stop_manager, tally

#: Secrets in the Manager's environment, each with a value that must never reach an engine.
SECRETS = {
    "INFERENCEKEY_SDK_TOKEN": "ik_sdk_envtest_" + "a" * 32,
    "INFERENCEKEY_API_KEY": "ik_live_envtest_" + "b" * 32,
    "OPENAI_API_KEY": "sk-envtest-" + "c" * 32,
    "ANTHROPIC_API_KEY": "sk-ant-envtest-" + "d" * 32,
    "AWS_ACCESS_KEY_ID": "AKIAENVTEST" + "E" * 9,
    "AWS_SECRET_ACCESS_KEY": "envtest-aws-" + "f" * 28,
    "GITHUB_TOKEN": "ghp_envtest" + "g" * 30,
    "DATABASE_PASSWORD": "envtest-db-password",
    "VLLM_API_KEY": "envtest-vllm-key",  # a passed prefix, but a secret's name
    "CUDA_AUTH_TOKEN": "envtest-cuda-token",
    "MY_APP_CREDENTIALS": "envtest-credentials",
}
#: Passed only because the operator names it with --engine-env.
PASSED = {"HF_TOKEN": "hf_envtest_" + "h" * 30}
#: Harmless: the first on the documented list, the second not on it.
ORDINARY = {"CUDA_VISIBLE_DEVICES": "0", "SOME_APP_SETTING": "not-for-engines"}

ENV_DUMP_ENGINE = """
import json, os, sys, time
out = sys.argv[1]
with open(out + ".tmp", "w") as f:
    json.dump(dict(os.environ), f)
os.rename(out + ".tmp", out)
time.sleep(600)
"""


def wait_for(path: Path, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert path.exists(), f"{path.name} never appeared"


def test_engines_see_no_secret_of_the_managers_environment(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {**SECRETS, **PASSED, **ORDINARY}
    m = start_manager(
        data,
        flags=("--dev", "--allow-any-command", "--engine-env", "HF_TOKEN"),
        env=env,
    )
    try:
        p = bootstrap(m)
        script = tmp_path / "env_engine.py"
        script.write_text(ENV_DUMP_ENGINE)
        out = tmp_path / "engine-env.json"
        ManagementClient(p.slug, base_url=m.url, sdk_token=p.sdk_token).ensure(
            WorkloadSpec(
                name="envdump",
                slug="envdump",
                model=MODEL,
                backend=Backend.VLLM,
                command=f"{sys.executable} {script} {out}",
            )
        )
        wait_for(out)
        seen: dict[str, str] = json.loads(out.read_text())
        # What any local process of the user can read: every process of the engine's tree
        # (its keeper included).
        procs = engine_pids(data)
        assert procs, "no engine process found"
        environs = [Path(f"/proc/{pid}/environ").read_bytes() for pid in procs]
    finally:
        stop_manager(m)

    leaked = sorted(k for k in SECRETS if k in seen)
    assert leaked == [], f"the engine saw {leaked}"
    values = "\0".join(seen.values())
    assert [k for k, v in SECRETS.items() if v in values] == []
    for raw in environs:
        for name, value in SECRETS.items():
            assert value.encode() not in raw, f"{name} is in a /proc/<pid>/environ"
    assert seen.get("HF_TOKEN") == PASSED["HF_TOKEN"], "--engine-env HF_TOKEN was not passed"
    assert seen.get("CUDA_VISIBLE_DEVICES") == "0"
    assert "SOME_APP_SETTING" not in seen
    assert seen.get("PORT") and seen.get("HOST") == "127.0.0.1"
    tally(
        "engine environment",
        secrets_in_manager_env=len(SECRETS),
        secrets_seen_by_engine=len(leaked),
        engine_processes_checked=len(environs),
        passed_with_engine_env=1,
    )


#: A slow engine: it loads for as long as the go-file is missing, then binds its port (waiting
#: while another process holds it) and answers /health and chat completions as itself.
SLOW_ENGINE = """
import http.server, json, os, sys, time
go = sys.argv[1]
port = int(sys.argv[sys.argv.index("--port") + 1])
while not os.path.exists(go):
    time.sleep(0.05)

class H(http.server.BaseHTTPRequestHandler):
    def answer(self, body):
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def do_GET(self):
        self.answer({"status": "ok"})
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.answer({"id": "x", "object": "chat.completion", "model": "m",
                     "choices": [{"index": 0, "finish_reason": "stop",
                                  "message": {"role": "assistant", "content": f"real:{port}"}}]})
    def log_message(self, *a):
        pass

while True:
    try:
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), H)
        break
    except OSError:
        time.sleep(0.1)
srv.serve_forever()
"""

#: The impostor: binds the port it is given, logs every request line and answers as if it were
#: the engine.
IMPOSTOR = """
import http.server, json, os, sys
port, log, ready = int(sys.argv[1]), sys.argv[2], sys.argv[3]

class H(http.server.BaseHTTPRequestHandler):
    def answer(self, body):
        with open(log, "a") as f:
            f.write(f"{self.command} {self.path}\\n")
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def do_GET(self):
        self.answer({"status": "ok"})
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.answer({"id": "x", "object": "chat.completion", "model": "m",
                     "choices": [{"index": 0, "finish_reason": "stop",
                                  "message": {"role": "assistant", "content": "impostor"}}]})
    def log_message(self, *a):
        pass

srv = http.server.HTTPServer(("127.0.0.1", port), H)
open(ready, "w").close()
srv.serve_forever()
"""


def engine_port(data: Path, script: Path, within: float = 30.0) -> int:
    """The port the Manager gave the engine, read from its command line in /proc."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        for pid in engine_pids(data):
            try:
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
            except OSError:
                continue
            if str(script) in argv and "--port" in argv and "__replica-keeper" not in argv:
                return int(argv[argv.index("--port") + 1])
        time.sleep(0.05)
    raise AssertionError("the engine never started")


def test_an_impostor_on_the_engines_port_never_gets_traffic(tmp_path: Path) -> None:
    data = tmp_path / "data"
    m = start_manager(data)
    impostor: subprocess.Popen[bytes] | None = None
    try:
        p = bootstrap(m)
        script = tmp_path / "slow_engine.py"
        script.write_text(SLOW_ENGINE)
        go = tmp_path / "go"
        slug = "guarded-" + uuid.uuid4().hex[:6]
        mgmt = ManagementClient(p.slug, base_url=m.url, sdk_token=p.sdk_token)
        mgmt.ensure(
            WorkloadSpec(
                name=slug,
                slug=slug,
                model=MODEL,
                backend=Backend.VLLM,
                command=f"{sys.executable} {script} {go}",
            )
        )
        events: list[dict[str, Any]] = []
        outcome: list[BaseException] = []

        def watch() -> None:
            try:
                mgmt.wait_until_ready(slug, timeout=120, progress=False, on_event=events.append)
            except BaseException as e:  # reported by the main thread
                outcome.append(e)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()

        port = engine_port(data, script)
        requests_log = tmp_path / "impostor.log"
        bound = tmp_path / "impostor.bound"
        (tmp_path / "impostor.py").write_text(IMPOSTOR)
        impostor = subprocess.Popen(
            [
                sys.executable,
                str(tmp_path / "impostor.py"),
                str(port),
                str(requests_log),
                str(bound),
            ]
        )
        wait_for(bound, within=30)
        # The impostor holds the port; the engine finishes "loading" only now.
        go.touch()
        watcher.join(timeout=150)
        assert not watcher.is_alive(), "the workload never became ready"
        assert outcome == [], outcome

        phases = [e["phase"] for e in events]
        caught = [
            i
            for i, e in enumerate(events)
            if f"port {port} answered" in e["message"] and "another local process" in e["message"]
        ]
        assert caught, f"no readiness event says why port {port} was refused: {events}"
        assert phases[-1] == "ready"
        assert "ready" not in phases[: caught[0]], "the workload went ready on the impostor"
        log_text = m.log.read_text()
        assert f"port {port} answered" in log_text, "the Manager's log does not say why"

        # Traffic goes to the real engine, on another port.
        answers = []
        with httpx.Client(timeout=30) as client:
            for _ in range(20):
                r = client.post(
                    f"{m.url}/endpoint/{p.slug}/{slug}/v1/chat/completions",
                    headers={"Authorization": f"Bearer {p.key}"},
                    json={"messages": [{"role": "user", "content": "hello"}], "max_tokens": 2},
                )
                assert r.status_code == 200, r.text
                answers.append(r.json()["choices"][0]["message"]["content"])
        assert all(a.startswith("real:") and a != f"real:{port}" for a in answers), answers
        hits = requests_log.read_text().splitlines() if requests_log.exists() else []
        assert [h for h in hits if not h.startswith("GET /health")] == [], hits
        tally(
            "engine port impostor",
            impostor_health_answers=len(hits),
            requests_to_impostor=len(hits) - sum(h.startswith("GET /health") for h in hits),
            requests_to_engine=len(answers),
            impostors_caught=len(caught),
        )
    finally:
        if impostor is not None:
            impostor.kill()
            impostor.wait()
        stop_manager(m)
