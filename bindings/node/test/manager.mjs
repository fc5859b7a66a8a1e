// A real local Manager for the Node tests, started the way a user starts it
// (`inferencekey-manager serve --dev`) on an ephemeral loopback port with its own data dir:
// real SQLite, and the reference engine as a real child process for every workload.
// Projects, keys and workers are bootstrapped through the real CLI, as
// tests/integration/conftest.py does for Python.
//
// test/run.mjs starts one Manager for the whole run and passes it to every test file through
// IK_TEST_MANAGER_URL / IK_TEST_MANAGER_DIR; a file run on its own starts its own.
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, openSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const PKG = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const REPO = resolve(PKG, "..", "..");

export function managerBinary() {
  const target = process.env.CARGO_TARGET_DIR ? resolve(REPO, process.env.CARGO_TARGET_DIR) : join(REPO, "target");
  const bin = join(target, "debug", "inferencekey-manager");
  if (!existsSync(bin)) throw new Error(`${bin} is missing: cargo build -p inferencekey-manager`);
  return bin;
}

/** Starts a Manager; resolves once it wrote its address. */
export async function startManager() {
  const dataDir = mkdtempSync(join(tmpdir(), "ik-node-manager-"));
  const log = join(dataDir, "manager-test.log");
  const fd = openSync(log, "a");
  const proc = spawn(
    managerBinary(),
    ["serve", "--dev", "--allow-any-command", "--port", "0", "--data-dir", dataDir],
    // The seed s004 calls a nightly-cron workload right after creating it; schedules are
    // enforced, so this Manager's clock starts inside that schedule (as tests/integration does).
    { stdio: ["ignore", fd, fd], env: { ...process.env, INFERENCEKEY_DEV_CLOCK: "2026-12-01T02:00:30Z" } },
  );
  const address = join(dataDir, "address");
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`the Manager exited with ${proc.exitCode}: ${readFileSync(log, "utf8")}`);
    if (existsSync(address)) {
      const url = readFileSync(address, "utf8").trim();
      if (url) return { url, dataDir, proc, log };
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  proc.kill("SIGKILL");
  throw new Error(`the Manager did not write its address within 60 s: ${readFileSync(log, "utf8")}`);
}

export async function stopManager(m) {
  if (!m.proc || m.proc.exitCode !== null) return;
  const exited = new Promise((r) => m.proc.once("exit", r));
  m.proc.kill("SIGTERM");
  const timer = setTimeout(() => m.proc.kill("SIGKILL"), 20_000);
  await exited;
  clearTimeout(timer);
}

let shared;

/** The run's Manager (from test/run.mjs), else one started for this file and stopped at exit. */
export async function manager() {
  if (shared) return shared;
  if (process.env.IK_TEST_MANAGER_URL) {
    shared = { url: process.env.IK_TEST_MANAGER_URL, dataDir: process.env.IK_TEST_MANAGER_DIR, proc: null };
  } else {
    shared = await startManager();
    const m = shared;
    process.once("exit", () => m.proc.kill("SIGKILL"));
  }
  return shared;
}

/** Runs the Manager's CLI against its data dir. */
export function cli(m, ...args) {
  return execFileSync(managerBinary(), [...args, "--data-dir", m.dataDir], {
    encoding: "utf8",
    timeout: 60_000,
  });
}

/** `inferencekey init`: the exported variables, as an object. */
export function init(m, project) {
  const out = cli(m, "init", "--project", project);
  const env = {};
  for (const line of out.split("\n").filter((l) => l.trim())) {
    const match = /^export (\w+)=(.*)$/.exec(line.trim());
    if (!match) throw new Error(`unexpected init line: ${line}`);
    env[match[1]] = match[2].replace(/^['"]|['"]$/g, "");
  }
  return env;
}

export function key(m, project, workload) {
  const out = cli(m, "key", "create", "--project", project, ...(workload ? ["--workload", workload] : ["--all"])).trim();
  if (!out.startsWith("ik_live_")) throw new Error(out);
  return out;
}

export function worker(m, name) {
  const out = cli(m, "worker", "register", "--name", name).trim();
  if (!out.startsWith("wrk_")) throw new Error(out);
  return out;
}

/**
 * A fresh project with its env vars set in this process (INFERENCEKEY_API_KEY removed), a
 * project-wide data key and a registered worker.
 */
export async function project() {
  const m = await manager();
  const slug = "p-" + randomBytes(5).toString("hex");
  const env = init(m, slug);
  for (const k of Object.keys(process.env)) if (k.startsWith("INFERENCEKEY_")) delete process.env[k];
  Object.assign(process.env, env);
  return { slug, env, key: key(m, slug), workerId: worker(m, "gpu-box-" + slug), manager: m };
}

/** A unique workload slug. */
export function uniqueSlug(prefix = "w") {
  return `${prefix}-${randomBytes(4).toString("hex")}`;
}
