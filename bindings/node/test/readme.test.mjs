// The README's Node section runs as written against a real Manager (project `acme`'s env vars
// from `inferencekey init`, INFERENCEKEY_API_KEY from `key create`).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";

import { PKG, REPO, init, key, manager } from "./manager.mjs";

test("README: the Node example runs as written", async () => {
  const readme = readFileSync(join(REPO, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## Node / TypeScript"));
  const code = /```js\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(code, "the README has no Node example");
  const m = await manager();
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("INFERENCEKEY_")));
  Object.assign(env, init(m, "acme"));
  env.INFERENCEKEY_API_KEY = key(m, "acme");
  const dir = mkdtempSync(join(tmpdir(), "ik-node-readme-"));
  mkdirSync(join(dir, "node_modules", "@inferencekey"), { recursive: true });
  symlinkSync(PKG, join(dir, "node_modules", "@inferencekey", "sdk"));
  writeFileSync(join(dir, "example.mjs"), code);
  const r = spawnSync(process.execPath, ["example.mjs"], { cwd: dir, env, encoding: "utf8", timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^acme support-bot (created|unchanged|updated)$/m);
  assert.match(r.stdout, /Reference engine \(no model loaded\)/);
  assert.equal(r.stderr, "");
  assert.ok(!(r.stdout + r.stderr).includes(env.INFERENCEKEY_API_KEY));
});
