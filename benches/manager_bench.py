"""The scenarios that need the local Manager: ``ensure()`` unchanged with 1 vs N workloads in
the project, and the data-plane gateway against calling the engine directly.

``python benches/manager_bench.py {ensure|gateway} CONFIG.json OUT.json`` (run.py does this).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import Meter, Tally, interleaved, sequential
from report import fmt
from server import Nginx, children

import inferencekey
from inferencekey import ManagementClient, WorkloadSpec

Config = dict[str, Any]
ANSI = re.compile(r"\x1b\[[0-9;]*m")


class Manager:
    """A local Manager on a free port with its own data dir, stopped by ``stop()``."""

    def __init__(self, data_dir: Path, dev: bool) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.dir = data_dir
        self.log_path = data_dir / "manager.log"
        self.log = open(self.log_path, "wb")  # noqa: SIM115 (closed in stop())
        flags = ["--dev", "--allow-any-command"] if dev else []
        # The ensure() rows hold 10,000 workloads of one replica each (none of them runs):
        # past the default cap of 1,024 replicas, which guards a real machine.
        flags += ["--max-replicas", "100000"]
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "inferencekey",
                "serve",
                "--port",
                "0",
                "--data-dir",
                str(data_dir),
                *flags,
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        address = data_dir / "address"
        deadline = time.monotonic() + 60
        while not (address.exists() and address.read_text().strip()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SystemExit(f"the Manager did not start:\n{self.log_path.read_text()}")
            time.sleep(0.05)
        self.url = address.read_text().strip()

    def cli(self, *args: str) -> str:
        env = dict(os.environ, INFERENCEKEY_DATA_DIR=str(self.dir))
        out = subprocess.run(
            [sys.executable, "-m", "inferencekey", *args],
            capture_output=True,
            text=True,
            env=env,
        )
        if out.returncode != 0:
            raise SystemExit(f"inferencekey {args[0]} failed: {out.stderr}")
        return out.stdout

    def init(self, project: str) -> dict[str, str]:
        """The `export NAME=value` lines of `inferencekey init` as a dict."""
        env = {}
        for line in self.cli("init", "--project", project).splitlines():
            if line.startswith("export "):
                k, v = line[len("export ") :].split("=", 1)
                env[k] = v.strip("'\"")
        return env

    def key(self, project: str) -> str:
        return self.cli("key", "create", "--project", project, "--all").strip().splitlines()[-1]

    def requests(self) -> list[str]:
        """The requests the Manager's access log has recorded so far (method and path)."""
        out = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            line = ANSI.sub("", line)
            if "inferencekey_manager::access" not in line:
                continue
            m = re.search(r"method=(\S+) path=\"?([^\"\s]+)", line)
            if m:
                out.append(f"{m.group(1)} {m.group(2)}")
        return out

    def pids(self) -> list[int]:
        return [self.proc.pid]

    def engines(self) -> list[tuple[int, int]]:
        """(pid, port) of the engine processes this Manager runs."""
        out = []
        for pid in children(self.proc.pid):
            try:
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            args = [a.decode() for a in argv if a]
            if "--port" in args:
                out.append((pid, int(args[args.index("--port") + 1])))
        return out

    def stop(self) -> None:
        engines = [pid for pid, _ in self.engines()] if self.proc.poll() is None else []
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        # The Manager stops its engines; any it left behind were started by this benchmark.
        for pid in engines:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        self.log.close()


def wait_idle(seconds: float = 0.3) -> None:
    """Lets the access log catch up (it is written after the answer)."""
    time.sleep(seconds)


# ---------------------------------------------------------------------------------------


def idle_spec(slug: str) -> WorkloadSpec:
    # An engine this machine does not have (no vllm installed): without --dev the Manager
    # cannot run it, so the workload sits in `error` and starts no process. ensure() reads
    # only desired state.
    return WorkloadSpec(
        name=slug,
        slug=slug,
        model="bench-model",
        backend="vllm",
        command="vllm serve bench-model",
        execution_policy="fixed",
        execution_policy_config={"replicas": 1},
    )


def fill(url: str, project: str, token: str, n: int) -> float:
    """Creates `n` workloads through the control API as fast as one connection allows."""
    u = urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    t0 = time.monotonic()
    for i in range(n):
        body = inferencekey._native.create_body(idle_spec(f"filler-{i:05d}").to_json())
        conn.request("POST", f"/api/projects/{project}/workloads", body=body, headers=headers)
        r = conn.getresponse()
        r.read()
        if r.status != 201:
            raise SystemExit(f"creating filler {i}: HTTP {r.status}")
    conn.close()
    return time.monotonic() - t0


def ensure(cfg: Config) -> dict[str, Any]:
    import tempfile

    n = cfg["ensure_workloads"]
    with tempfile.TemporaryDirectory(prefix="ik-bench-ensure-") as tmp:
        m = Manager(Path(tmp), dev=False)
        try:
            projects = {"1 workload": ("one", 0), f"{n:,} workloads": ("many", n - 1)}
            clients: dict[str, ManagementClient] = {}
            fill_s = 0.0
            for label, (project, fillers) in projects.items():
                env = m.init(project)
                token = env["INFERENCEKEY_SDK_TOKEN"]
                if fillers:
                    fill_s = fill(m.url, project, token, fillers)
                mc = ManagementClient(project, base_url=m.url, sdk_token=token, max_retries=0)
                first = mc.ensure(idle_spec("target"))
                assert first.action == "created", first
                clients[label] = mc
            live = {label: len(mc.list()) for label, mc in clients.items()}

            # Requests sent by one unchanged ensure(), from the Manager's access log.
            counted: dict[str, list[str]] = {}
            for label, mc in clients.items():
                wait_idle()
                before = len(m.requests())
                ref = mc.ensure(idle_spec("target"))
                wait_idle()
                assert ref.action == "unchanged", ref
                counted[label] = m.requests()[before:]

            spec = idle_spec("target")

            def op(mc: ManagementClient) -> Callable[[Meter], Tally]:
                def call() -> None:
                    if mc.ensure(spec).action != "unchanged":
                        raise SystemExit("ensure() changed something")

                return lambda meter: sequential(call, cfg["ensure_calls"], meter)

            def warm(label: str) -> None:
                for _ in range(5):
                    clients[label].ensure(spec)

            ops = {label: op(mc) for label, mc in clients.items()}
            totals = interleaved(ops, cfg["rounds"], Meter(m.pids()), warm)
        finally:
            m.stop()

    res = {label: t.summary() for label, t in totals.items()}
    one, many = list(res)
    req_ok = all(len(v) == 1 for v in counted.values())
    scale = res[many]["p50_us"] / res[one]["p50_us"]
    table = [
        "| project | workloads | requests per ensure() | p50 | p99 | Manager CPU per call |",
        "|---|---:|---|---:|---:|---:|",
    ]
    for label, r in res.items():
        reqs = counted[label]
        table.append(
            f"| {label} | {live[label]:,} | {len(reqs)}: `{'`, `'.join(reqs)}` | "
            f"{fmt(r['p50_us'], 0, ' µs')} | {fmt(r['p99_us'], 0, ' µs')} | "
            f"{fmt(r['server_cpu_us_per_call'], 0, ' µs')} |"
        )
    return {
        "clients": res,
        "requests": counted,
        "workloads": live,
        "fill_seconds": fill_s,
        "ok": req_ok and scale <= 2.0,
        "summary": (
            f"{'/'.join(str(len(v)) for v in counted.values())} request(s); "
            f"{n:,} workloads cost {scale:.2f}\u00d7 one"
        ),
        "table": table,
        "note": (
            f"requests counted in the Manager's access log; {n - 1:,} filler workloads created "
            f"through the API in {fill_s:.1f} s (custom backend, no --dev: they start no "
            "process); timed through ManagementClient.ensure() in interleaved rounds"
        ),
    }


# ---------------------------------------------------------------------------------------


PROMPT = "Hola"


class Plain:
    """http.client on one kept-alive connection to `base`, posting to `path`."""

    def __init__(self, base: str, path: str, key: str | None) -> None:
        u = urlsplit(base)
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        self.path = path
        self.headers = {"Content-Type": "application/json"}
        if key:
            self.headers["Authorization"] = f"Bearer {key}"

    def post(self, body: dict[str, Any]) -> http.client.HTTPResponse:
        self.conn.request("POST", self.path, body=json.dumps(body).encode(), headers=self.headers)
        r = self.conn.getresponse()
        if r.status != 200:
            raise SystemExit(f"{self.path}: HTTP {r.status}: {r.read()[:300]!r}")
        return r

    def chat(self) -> str:
        body = {
            "model": "bench-model",
            "messages": [{"role": "user", "content": PROMPT}],
            "max_tokens": 16,
        }
        return json.loads(self.post(body).read())["choices"][0]["message"]["content"]

    def stream(self, prompt: str, max_tokens: int) -> Iterator[str]:
        body = {
            "model": "bench-model",
            "messages": [{"role": "user", "content": prompt}],
            "max_tokens": max_tokens,
            "stream": True,
        }
        r = self.post(body)
        for line in r:
            if line.startswith(b"data: "):
                data = line[6:].strip()
                if data == b"[DONE]":
                    r.read()
                    return
                choices = json.loads(data)["choices"]
                yield (choices[0]["delta"].get("content") or "") if choices else ""
        raise SystemExit("stream ended without [DONE]")


def gateway(cfg: Config) -> dict[str, Any]:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="ik-bench-gateway-") as tmp:
        m = Manager(Path(tmp, "manager"), dev=True)
        try:
            return _gateway(cfg, m, Path(tmp))
        finally:
            m.stop()


def _gateway(cfg: Config, m: Manager, tmp: Path) -> dict[str, Any]:
    env = m.init("gw")
    key = m.key("gw")
    mc = ManagementClient("gw", base_url=m.url, sdk_token=env["INFERENCEKEY_SDK_TOKEN"])
    command = (
        f"{sys.executable} -m inferencekey engine --host {{host}} --port {{port}} "
        "--model bench-model --task-type text2text"
    )
    mc.ensure(
        WorkloadSpec(name="chat", slug="chat", model="bench-model", backend="vllm", command=command)
    )
    mc.wait_until_ready("chat", 120, progress=False)
    engines = m.engines()
    if len(engines) != 1:
        raise SystemExit(f"expected one engine process, found {engines}")
    engine_pid, port = engines[0]
    direct_base = f"http://127.0.0.1:{port}"
    # For scale: what a well-tuned reverse proxy adds on this machine, in front of the same
    # engine.
    proxy = Nginx(tmp / "nginx-proxy", upstream_port=port)
    try:
        return _gateway_paths(cfg, m, key, engine_pid, direct_base, proxy)
    finally:
        proxy.stop()


def _gateway_paths(
    cfg: Config, m: Manager, key: str, engine_pid: int, direct_base: str, proxy: Nginx
) -> dict[str, Any]:
    paths = {
        "direct": (direct_base, "/v1/chat/completions", None),
        "gateway": (m.url, "/endpoint/gw/chat/v1/chat/completions", key),
        "nginx proxy": (proxy.base_url, "/v1/chat/completions", None),
    }
    conns = {name: Plain(*p) for name, p in paths.items()}
    check = {name: c.chat() for name, c in conns.items()}
    if len(set(check.values())) != 1:
        raise SystemExit(f"different answers: {check}")

    data = inferencekey.DataClient("gw", base_url=m.url, api_key=key)
    ours = data.endpoint("chat")
    pids = [m.proc.pid, engine_pid, *proxy.pids]
    meter = Meter(pids)
    calls = cfg["gateway_calls"]
    tokens = cfg["gateway_stream_tokens"]

    # Plain chat: the same http.client code against the engine and through the gateway.
    plain_ops: dict[str, Callable[[Meter], Tally]] = {
        f"http.client, {name}": (lambda mt, c=c: sequential(c.chat, calls, mt))
        for name, c in conns.items()
    }
    plain_ops["inferencekey, gateway"] = lambda mt: sequential(
        lambda: ours.generate_text(prompt=PROMPT, model="bench-model", max_tokens=16), calls, mt
    )

    def warm(name: str) -> None:
        plain_ops[name](Meter([]))

    plain = interleaved(plain_ops, cfg["rounds"], meter, warm)

    # Streams: time to first chunk and to [DONE], `tokens` chunks each.
    def stream_op(c: Plain) -> Callable[[Meter], Tally]:
        def run(mt: Meter) -> Tally:
            t = Tally()
            ttfc: list[int] = []
            clock = time.perf_counter_ns
            mt.start()
            for _ in range(calls // 4 or 1):
                t0 = clock()
                it = c.stream(PROMPT, tokens)
                next(it)
                ttfc.append(clock() - t0)
                for _ in it:
                    pass
                t.latencies_ns.append(clock() - t0)
            mt.stop(t)
            t.calls = len(ttfc)
            t.ttfc = ttfc  # type: ignore[attr-defined]
            return t

        return run

    ttfcs: dict[str, list[int]] = {name: [] for name in conns}

    def keep(name: str) -> Callable[[Meter], Tally]:
        inner = stream_op(conns[name])

        def run(mt: Meter) -> Tally:
            t = inner(mt)
            ttfcs[name] += t.ttfc  # type: ignore[attr-defined]
            return t

        return run

    streams = interleaved({name: keep(name) for name in conns}, cfg["rounds"], meter)

    # 32 concurrent clients, each on its own kept-alive connection, the same chat call.
    clients = 32
    per_client = max(calls // 8, 2)

    def concurrent_op(name: str) -> Callable[[Meter], Tally]:
        base, path, auth = paths[name]
        pool = [Plain(base, path, auth) for _ in range(clients)]
        for c in pool:
            c.chat()

        def run(mt: Meter) -> Tally:
            t = Tally()
            start = threading.Barrier(clients + 1)
            lats: list[list[int]] = [[] for _ in pool]

            def client(i: int) -> None:
                c, lat, clock = pool[i], lats[i], time.perf_counter_ns
                start.wait()
                for _ in range(per_client):
                    t0 = clock()
                    c.chat()
                    lat.append(clock() - t0)

            threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
            for th in threads:
                th.start()
            mt.start()
            start.wait()
            for th in threads:
                th.join()
            mt.stop(t)
            for lat in lats:
                t.latencies_ns += lat
            t.calls = clients * per_client
            return t

        return run

    together = interleaved({name: concurrent_op(name) for name in conns}, cfg["rounds"], meter)

    # Unbuffered pass-through: the engine waits `delay` before each chunk and writes each on
    # its own; through the gateway each chunk must still arrive as it is written.
    delay_ms, paced_chunks = 20, 10
    paced: dict[str, dict[str, float]] = {}
    for name, c in conns.items():
        t0 = time.perf_counter()
        arrivals = []
        for text in c.stream(f"{PROMPT} [[ik:chunk-delay:{delay_ms}]]", paced_chunks):
            if text:
                arrivals.append(time.perf_counter() - t0)
        gaps = sorted(b - a for a, b in zip(arrivals, arrivals[1:]))
        paced[name] = {
            "first_content_ms": arrivals[0] * 1e3,
            "last_content_ms": arrivals[-1] * 1e3,
            "median_gap_ms": gaps[len(gaps) // 2] * 1e3 if gaps else float("nan"),
            "chunks": len(arrivals),
        }
    data.close()

    def p50(values: list[int]) -> float:
        v = sorted(values)
        return v[len(v) // 2] / 1e3

    res = {
        "plain": {k: t.summary() for k, t in plain.items()},
        "stream": {k: dict(t.summary(), ttfc_p50_us=p50(ttfcs[k])) for k, t in streams.items()},
        "paced": paced,
        "concurrent": {k: t.summary() for k, t in together.items()},
    }
    added_plain = (
        res["plain"]["http.client, gateway"]["p50_us"]
        - res["plain"]["http.client, direct"]["p50_us"]
    )
    added_ttfc = res["stream"]["gateway"]["ttfc_p50_us"] - res["stream"]["direct"]["ttfc_p50_us"]
    added_stream = res["stream"]["gateway"]["p50_us"] - res["stream"]["direct"]["p50_us"]
    added_nginx = (
        res["plain"]["http.client, nginx proxy"]["p50_us"]
        - res["plain"]["http.client, direct"]["p50_us"]
    )
    added_nginx_ttfc = (
        res["stream"]["nginx proxy"]["ttfc_p50_us"] - res["stream"]["direct"]["ttfc_p50_us"]
    )
    cc = res["concurrent"]
    added_cc = cc["gateway"]["p50_us"] - cc["direct"]["p50_us"]
    added_cc_nginx = cc["nginx proxy"]["p50_us"] - cc["direct"]["p50_us"]
    g, d = paced["gateway"], paced["direct"]
    unbuffered = (
        g["first_content_ms"] < d["first_content_ms"] + delay_ms / 2
        and g["median_gap_ms"] > delay_ms / 2
    )
    table = [
        "| path | chat p50 | chat p99 | server-side CPU per call | stream TTFC p50 | "
        f"stream ({tokens} chunks) p50 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name in conns:
        pl, st = res["plain"][f"http.client, {name}"], res["stream"][name]
        table.append(
            f"| http.client, {name} | {fmt(pl['p50_us'], 0, ' µs')} | "
            f"{fmt(pl['p99_us'], 0, ' µs')} | {fmt(pl['server_cpu_us_per_call'], 0, ' µs')} | "
            f"{fmt(st['ttfc_p50_us'], 0, ' µs')} | {fmt(st['p50_us'], 0, ' µs')} |"
        )
    ik = res["plain"]["inferencekey, gateway"]
    table.append(
        f"| inferencekey, gateway | {fmt(ik['p50_us'], 0, ' µs')} | {fmt(ik['p99_us'], 0, ' µs')} "
        f"| {fmt(ik['server_cpu_us_per_call'], 0, ' µs')} | | |"
    )
    table += [
        "",
        f"| {clients} concurrent clients (chat) | p50 | p99 | calls/s | server-side CPU per call |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in conns:
        row = cc[name]
        table.append(
            f"| http.client, {name} | {fmt(row['p50_us'], 0, ' µs')} | "
            f"{fmt(row['p99_us'], 0, ' µs')} | {fmt(row['calls_per_s'], 0, '')} | "
            f"{fmt(row['server_cpu_us_per_call'], 0, ' µs')} |"
        )
    table += [
        "",
        f"Added p50 against nginx's: chat {added_plain:+.0f} / {added_nginx:+.0f} µs, first "
        f"chunk {added_ttfc:+.0f} / {added_nginx_ttfc:+.0f} µs, {clients} concurrent "
        f"{added_cc:+.0f} / {added_cc_nginx:+.0f} µs.",
        "",
        f"Paced stream ({paced_chunks} chunks, engine waits {delay_ms} ms before each): first "
        f"content chunk at {d['first_content_ms']:.1f} ms direct / {g['first_content_ms']:.1f} ms "
        f"through the gateway; median gap {d['median_gap_ms']:.1f} / {g['median_gap_ms']:.1f} ms; "
        f"last at {d['last_content_ms']:.1f} / {g['last_content_ms']:.1f} ms.",
    ]
    return {
        **res,
        "ok": added_plain <= 100 and added_ttfc <= 100 and unbuffered,
        "summary": (
            f"+{added_plain:.0f} µs chat p50, +{added_ttfc:.0f} µs stream TTFC p50, "
            f"+{added_stream:.0f} µs whole {tokens}-chunk stream; "
            f"{'unbuffered' if unbuffered else 'BUFFERED'} (paced chunks arrive as written); "
            f"for scale, nginx as a reverse proxy adds +{added_nginx:.0f} µs chat p50 here "
            f"(+{added_nginx_ttfc:.0f} µs TTFC); {clients} concurrent clients: gateway "
            f"+{added_cc:.0f} µs p50, nginx +{added_cc_nginx:.0f} µs"
        ),
        "table": table,
        "note": (
            "the same http.client code calls the reference engine's port directly, through "
            "the Manager's gateway, and through nginx as a reverse proxy (keep-alive upstream, "
            "no buffering) in front of that same engine process, interleaved in rounds; "
            "server-side CPU is the Manager's, the engine's and the proxy's together"
        ),
    }


AGENT_HOST = "127.0.0.2"


def agent(cfg: Config) -> dict[str, Any]:
    """The gateway's added latency to a replica on a worker agent (its own process, "another
    host" on 127.0.0.2) against a local replica of the same engine, both measured against
    calling each engine directly."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="ik-bench-agent-") as tmp:
        m = Manager(Path(tmp, "manager"), dev=True)
        try:
            return _agent(cfg, m, Path(tmp))
        finally:
            m.stop()


def _agent(cfg: Config, m: Manager, tmp: Path) -> dict[str, Any]:
    env = m.init("ag")
    key = m.key("ag")
    worker = m.cli("worker", "register", "--name", "bench-agent").strip()
    token = m.cli("worker", "token", worker).strip()
    log_path = tmp / "agent.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "inferencekey",
                "worker",
                "run",
                "--manager",
                m.url,
                "--worker-id",
                worker,
                "--address",
                AGENT_HOST,
                "--dev",
                "--allow-any-command",
                "--data-dir",
                str(tmp / "agent"),
            ],
            env=dict(os.environ, INFERENCEKEY_WORKER_TOKEN=token),
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    try:
        deadline = time.monotonic() + 60
        while not any(
            w["id"] == worker and "last_seen" in w
            for w in json.loads(m.cli("worker", "list", "--json"))
        ):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the agent did not sync:\n{log_path.read_text()}")
            time.sleep(0.1)
        mc = ManagementClient("ag", base_url=m.url, sdk_token=env["INFERENCEKEY_SDK_TOKEN"])
        command = (
            f"{sys.executable} -m inferencekey engine --host {{host}} --port {{port}} "
            "--model bench-model --task-type text2text"
        )
        for slug, pinned in (("local", None), ("agent", worker)):
            mc.ensure(
                WorkloadSpec(
                    name=slug,
                    slug=slug,
                    model="bench-model",
                    backend="vllm",
                    command=command,
                    worker_id=pinned,
                )
            )
        for slug in ("local", "agent"):
            mc.wait_until_ready(slug, 120, progress=False)
        mine, theirs = (
            m.engines(),
            [
                (pid, port)
                for pid in children(proc.pid)
                for port in [_port_of(pid)]
                if port is not None
            ],
        )
        if len(mine) != 1 or len(theirs) != 1:
            raise SystemExit(f"expected one engine each, found {mine} here, {theirs} on the agent")
        paths = {
            "direct, local": (f"http://127.0.0.1:{mine[0][1]}", "/v1/chat/completions", None),
            "gateway, local": (m.url, "/endpoint/ag/local/v1/chat/completions", key),
            "direct, agent": (f"http://{AGENT_HOST}:{theirs[0][1]}", "/v1/chat/completions", None),
            "gateway, agent": (m.url, "/endpoint/ag/agent/v1/chat/completions", key),
        }
        conns = {name: Plain(*p) for name, p in paths.items()}
        check = {name: c.chat() for name, c in conns.items()}
        if len(set(check.values())) != 1:
            raise SystemExit(f"different answers: {check}")
        calls = cfg["gateway_calls"]
        ops: dict[str, Callable[[Meter], Tally]] = {
            name: (lambda mt, c=c: sequential(c.chat, calls, mt)) for name, c in conns.items()
        }
        meter = Meter([m.proc.pid, proc.pid, mine[0][0], theirs[0][0]])
        res = {k: t.summary() for k, t in interleaved(ops, cfg["rounds"], meter).items()}
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    added_local = res["gateway, local"]["p50_us"] - res["direct, local"]["p50_us"]
    added_agent = res["gateway, agent"]["p50_us"] - res["direct, agent"]["p50_us"]
    table = ["| path | chat p50 | chat p99 |", "|---|---:|---:|"]
    for name, row in res.items():
        table.append(
            f"| http.client, {name} | {fmt(row['p50_us'], 0, ' µs')} | "
            f"{fmt(row['p99_us'], 0, ' µs')} |"
        )
    table += [
        "",
        f"Added by the gateway (p50): {added_local:+.0f} µs to a local replica, "
        f"{added_agent:+.0f} µs to a replica on a worker agent.",
    ]
    return {
        "paths": res,
        "ok": True,
        "summary": (
            f"the gateway adds {added_agent:+.0f} µs p50 to a replica on a worker agent "
            f"against {added_local:+.0f} µs to a local one"
        ),
        "table": table,
        "note": (
            "one Manager, one worker agent process on 127.0.0.2 (its own data dir), the "
            "reference engine on each (one pinned to the agent's worker, one unpinned); the "
            "same http.client code calls each engine directly and through the gateway, "
            "interleaved in rounds"
        ),
    }


def _port_of(pid: int) -> int | None:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    args = [a.decode() for a in argv if a]
    return int(args[args.index("--port") + 1]) if "--port" in args else None


SCENARIOS = {"ensure": ensure, "gateway": gateway, "agent": agent}


def main() -> None:
    name, cfg_path, out_path = sys.argv[1:4]
    cfg = json.loads(Path(cfg_path).read_text())
    result = SCENARIOS[name](cfg)
    Path(out_path).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
