// Every Node snippet of the product docs (../shared/seeds, copied into test/seeds/ in page
// order), run as written against a real Manager. Only the placeholders change: `ik_live_...`
// becomes a real key, `wrk_7Yc2...` a registered worker, the hosted base URL the local
// Manager's; the env vars come from `inferencekey init --project acme`, and
// SUPPORT_IK_LIVE holds a data key.
//
// One page's snippets share a module, as they share a page: imports are hoisted and merged
// (a page imports `Backend` more than once), and each snippet runs in a block nested in the
// one before it, so it sees the page's earlier bindings (`mgmt`) and may declare its own
// `const ref` again.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, describe, test } from "node:test";

import { PKG, init, key, manager, worker } from "./manager.mjs";

const SEEDS = join(PKG, "test", "seeds");

/** The module a page's snippets make (see the header). */
export function pageModule(source) {
  const imports = new Map(); // specifier -> { default?: string, names: Set }
  const bodies = source.split(/^\/\/ ---- snippet$/m).map((part) =>
    part
      .split("\n")
      .filter((line) => {
        const m = /^import\s+(.+?)\s+from\s+"([^"]+)";\s*$/.exec(line);
        if (!m) return true;
        const entry = imports.get(m[2]) ?? { names: new Set() };
        const clause = m[1].trim();
        const named = /\{([^}]*)\}/.exec(clause);
        if (named) for (const n of named[1].split(",").map((s) => s.trim()).filter(Boolean)) entry.names.add(n);
        const def = clause.replace(/\{[^}]*\}/, "").replace(/,/g, "").trim();
        if (def) entry.default = def;
        imports.set(m[2], entry);
        return false;
      })
      .join("\n"),
  );
  const head = [...imports].map(([spec, e]) => {
    const parts = [e.default, e.names.size ? `{ ${[...e.names].join(", ")} }` : undefined].filter(Boolean);
    return `import ${parts.join(", ")} from "${spec}";`;
  });
  return [...head, ...bodies.map((b) => `{\n${b}\n`), "}".repeat(bodies.length), ""].join("\n");
}

/** A short real WAV recording (what a caller would upload), named as the docs name it. */
function callMp3(path) {
  const frames = Buffer.alloc(3200);
  for (let i = 0; i < frames.length; i += 2) frames.writeUInt16LE(0x0100, i);
  const h = Buffer.alloc(44);
  h.write("RIFF", 0);
  h.writeUInt32LE(36 + frames.length, 4);
  h.write("WAVEfmt ", 8);
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20); // PCM
  h.writeUInt16LE(1, 22); // mono
  h.writeUInt32LE(16000, 24);
  h.writeUInt32LE(32000, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write("data", 36);
  h.writeUInt32LE(frames.length, 40);
  writeFileSync(path, Buffer.concat([h, frames]));
}

/** A project directory whose node_modules holds this package and the openai client. */
function projectDir() {
  const dir = mkdtempSync(join(tmpdir(), "ik-node-seed-"));
  mkdirSync(join(dir, "node_modules", "@inferencekey"), { recursive: true });
  symlinkSync(PKG, join(dir, "node_modules", "@inferencekey", "sdk"));
  symlinkSync(join(PKG, "node_modules", "openai"), join(dir, "node_modules", "openai"));
  return dir;
}

describe("seed docs: every Node snippet runs as written", () => {
  let m;
  let acme;
  before(async () => {
    m = await manager();
    acme = init(m, "acme");
    acme.IK_LIVE = key(m, "acme");
    acme.WORKER = worker(m, "gpu-box");
  });

  for (const file of readdirSync(SEEDS).filter((f) => f.endsWith(".mjs")).sort()) {
    test(file, () => {
      const code = pageModule(readFileSync(join(SEEDS, file), "utf8"))
        .replaceAll('"ik_live_..."', JSON.stringify(acme.IK_LIVE))
        .replaceAll('"wrk_7Yc2..."', JSON.stringify(acme.WORKER))
        .replaceAll("https://api.inferencekey.com", m.url);
      const dir = projectDir();
      writeFileSync(join(dir, file), code);
      callMp3(join(dir, "call.mp3"));
      const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("INFERENCEKEY_")));
      for (const [k, v] of Object.entries(acme)) if (k.startsWith("INFERENCEKEY_")) env[k] = v;
      env.SUPPORT_IK_LIVE = acme.IK_LIVE;
      const r = spawnSync(process.execPath, [file], { cwd: dir, env, encoding: "utf8", timeout: 120_000 });
      assert.equal(r.status, 0, `${file} failed:\n${r.stderr}\n--- module ---\n${code}`);
      assert.ok(!(r.stdout + r.stderr).includes(acme.IK_LIVE), "the data key leaked into the output");
      if (code.includes("generateText")) assert.match(r.stdout, /Reference engine \(no model loaded\)/);
      if (code.includes("audio.speech")) assert.equal(readFileSync(join(dir, "out.mp3")).subarray(0, 4).toString(), "RIFF");
      if (code.includes("images.generate")) assert.match(r.stdout.trim().split("\n").at(-1), /^data:image\/png;base64,/);
      if (code.includes("transcriptions")) assert.match(r.stdout, new RegExp(`heard ${statSync(join(dir, "call.mp3")).size} bytes`));
      if (code.includes("console.log(emb.embeddings.length")) assert.match(r.stdout, /^2 vectors/m);
    });
  }
});
