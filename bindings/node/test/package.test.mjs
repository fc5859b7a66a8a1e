// The package as users get it: ESM and CommonJS load one copy of every class, a user's file
// passes `tsc --strict` against the .d.ts, and the `npm pack` tarball installs into an empty
// project and works from `node -e`.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";

import * as esm from "@inferencekey/sdk";

import { PKG } from "./manager.mjs";

const require = createRequire(import.meta.url);

test("ESM and CommonJS share one copy of every export", () => {
  const cjs = require("@inferencekey/sdk");
  assert.deepEqual(Object.keys(esm).filter((k) => k !== "default").sort(), Object.keys(cjs).sort());
  for (const k of Object.keys(cjs)) assert.equal(esm[k], cjs[k], k);
  try {
    new cjs.ManagementClient({ sdkToken: "ik_live_abcdefgh_secret" });
    assert.fail("no error");
  } catch (e) {
    assert.ok(e instanceof esm.PermissionDenied);
  }
});

test("a user's file passes tsc --strict", () => {
  execFileSync(process.execPath, [require.resolve("typescript/bin/tsc"), "-p", join(PKG, "test", "tsconfig.json")], {
    cwd: PKG,
    encoding: "utf8",
  });
});

test("npm pack: the tarball installs into an empty project and works from node -e", () => {
  const out = mkdtempSync(join(tmpdir(), "ik-node-pack-"));
  execFileSync("npm", ["pack", "--pack-destination", out, "--silent"], { cwd: PKG, encoding: "utf8" });
  const tarball = readdirSync(out).find((f) => f.endsWith(".tgz"));
  assert.ok(tarball, "npm pack wrote no tarball");
  const listing = execFileSync("tar", ["tzf", join(out, tarball)], { encoding: "utf8" });
  assert.match(listing, /package\/native\/inferencekey\.[a-z0-9-]+\.node/);
  assert.match(listing, /package\/dist\/index\.mjs/);
  assert.match(listing, /package\/dist\/index\.d\.ts/);
  assert.doesNotMatch(listing, /package\/(src|test)\//);
  const app = mkdtempSync(join(tmpdir(), "ik-node-app-"));
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", version: "1.0.0", private: true }));
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--offline", join(out, tarball)], { cwd: app, encoding: "utf8" });
  const cjsOut = execFileSync(
    process.execPath,
    ["-e", 'const ik = require("@inferencekey/sdk"); console.log(ik.VERSION, ik.Backend.Vllm, typeof ik.ManagementClient)'],
    { cwd: app, encoding: "utf8" },
  );
  assert.match(cjsOut, /^\d+\.\d+\.\d+ vllm function$/m);
  const esmOut = execFileSync(
    process.execPath,
    [
      "--input-type=module",
      "-e",
      'import { ManagementClient, ConfigurationError } from "@inferencekey/sdk"; try { new ManagementClient({ baseUrl: "http://127.0.0.1:9", sdkToken: " " }) } catch (e) { console.log(e instanceof ConfigurationError, e.field) }',
    ],
    { cwd: app, encoding: "utf8", env: { PATH: process.env.PATH } },
  );
  assert.equal(esmOut.trim(), "true sdk_token");
});
