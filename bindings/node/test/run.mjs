#!/usr/bin/env node
// Runs the Node suite: starts one real Manager, runs every test/*.test.{mjs,cjs} with
// `node --test` against it, stops it. Arguments are passed to `node --test` (e.g. a file).
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";

import { PKG, startManager, stopManager } from "./manager.mjs";

const m = await startManager();
let status = 1;
try {
  const args = process.argv.slice(2);
  const files = args.length
    ? args
    : readdirSync(join(PKG, "test"))
        .filter((f) => /\.test\.(mjs|cjs)$/.test(f))
        .sort()
        .map((f) => join("test", f));
  const r = spawnSync(process.execPath, ["--test", "--test-concurrency=2", ...files], {
    cwd: PKG,
    stdio: "inherit",
    env: { ...process.env, IK_TEST_MANAGER_URL: m.url, IK_TEST_MANAGER_DIR: m.dataDir },
  });
  status = r.status ?? 1;
} finally {
  await stopManager(m);
}
process.exit(status);
