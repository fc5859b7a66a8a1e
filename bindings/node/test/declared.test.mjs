// Declared once: the TypeScript declarations of the request, settings and result types are
// checked against the core's serde types (their field lists come from the core through
// `native.typeFields`), under the package's one naming rule (camelCase ⇄ snake_case).
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { test } from "node:test";

import { PKG } from "./manager.mjs";

const require = createRequire(import.meta.url);
const { native } = require("../dist/native.js");
const { snakeKey } = require("../dist/case.js");

/** interface name -> { fields, extends } from the emitted .d.ts files. */
function interfaces() {
  const out = new Map();
  for (const f of readdirSync(join(PKG, "dist")).filter((f) => f.endsWith(".d.ts"))) {
    const text = readFileSync(join(PKG, "dist", f), "utf8");
    for (const m of text.matchAll(/interface (\w+)(?: extends ([\w, ]+))? \{\n([\s\S]*?)\n\}/g)) {
      const fields = [...m[3].matchAll(/^ {4}(?:readonly )?(\w+)\??:/gm)].map((x) => x[1]);
      out.set(m[1], { fields, parents: m[2] ? m[2].split(",").map((s) => s.trim()) : [] });
    }
  }
  return out;
}

function allFields(all, name) {
  const i = all.get(name);
  assert.ok(i, `no interface ${name} in the .d.ts`);
  return [...i.fields, ...i.parents.flatMap((p) => allFields(all, p))];
}

// TypeScript name -> [core type, fields only on the TypeScript side, core fields the binding sets itself]
const TABLE = {
  TextRequest: ["TextRequest", ["signal"], []],
  EmbedRequest: ["EmbedRequest", ["signal"], []],
  RerankRequest: ["RerankRequest", ["signal"], []],
  // `data` (bytes) crosses as the core's base64 `body_b64`.
  JobRequest: ["JobRequest", ["signal", "data"], ["body_b64"]],
  ManagementSettings: ["ManagementSettings", [], ["language"]],
  DataSettings: ["DataSettings", [], ["language"]],
  EndpointOptions: ["EndpointSettings", [], []],
  Workload: ["Workload", [], []],
  WorkloadSpec: ["WorkloadSpec", [], []],
};

test("the TypeScript request, settings and result types are the core's", () => {
  const all = interfaces();
  for (const [ts, [core, tsOnly, coreOnly]] of Object.entries(TABLE)) {
    const mine = allFields(all, ts)
      .filter((f) => !tsOnly.includes(f))
      .map(snakeKey)
      .sort();
    const theirs = native
      .typeFields(core)
      .filter((f) => !coreOnly.includes(f))
      .sort();
    assert.deepEqual(mine, theirs, `${ts} vs the core's ${core}`);
  }
});
