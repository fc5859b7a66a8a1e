// Node rows of the benchmarks: @inferencekey/sdk vs the `openai` npm client vs a raw undici
// loop, against the fixed-answer nginx started by benches/node_run.py. One process; clients
// are created, checked against each other and warmed up first, then run in interleaved
// rounds (order rotating) so drift on the shared machine hits all alike.
//
//   node benches/node/bench.mjs BASE_URL [--quick]
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const PKG = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "bindings", "node");
const require = createRequire(join(PKG, "package.json"));
const { DataClient } = require(PKG);
const OpenAI = require("openai").default ?? require("openai");
const { Pool } = require("undici");

const base = process.argv[2];
const quick = process.argv.includes("--quick");
const KEY = "ik_live_benchbench_notchecked";
const MODEL = "meta-llama/Llama-3.1-8B-Instruct";
const MESSAGES = [{ role: "user", content: "Hola" }];
const SEQ = quick ? 50 : 2000;
const ROUNDS = quick ? 2 : 5;
const CONC = 32;
const PER_TASK = quick ? 5 : 50;

const data = new DataClient({ baseUrl: base, apiKey: KEY, project: "bench" });
const ours = { chat: data.endpoint("chat"), stream: data.endpoint("stream") };
const oai = (w) => new OpenAI({ baseURL: `${base}/endpoint/bench/${w}/v1`, apiKey: KEY, maxRetries: 0 });
const openai = { chat: oai("chat"), stream: oai("stream") }; // one client per workload URL
const pool = new Pool(base, { connections: CONC, pipelining: 1 });
const body = JSON.stringify({ model: MODEL, messages: MESSAGES });
const headers = { "content-type": "application/json", authorization: `Bearer ${KEY}` };

async function undiciChat() {
  const r = await pool.request({ path: "/endpoint/bench/chat/v1/chat/completions", method: "POST", body, headers });
  return (await r.body.json()).choices[0].message.content;
}

async function undiciStream() {
  const r = await pool.request({
    path: "/endpoint/bench/stream/v1/chat/completions",
    method: "POST",
    body: JSON.stringify({ model: MODEL, messages: MESSAGES, stream: true }),
    headers,
  });
  let n = 0;
  let rest = "";
  for await (const buf of r.body) {
    const lines = (rest + buf.toString("utf8")).split("\n");
    rest = lines.pop();
    for (const line of lines) {
      if (!line.startsWith("data: ") || line === "data: [DONE]") continue;
      const text = JSON.parse(line.slice(6)).choices[0]?.delta?.content;
      if (text !== undefined) n++;
    }
  }
  return n;
}

const clients = {
  inferencekey: {
    chat: async () => (await ours.chat.generateText({ messages: MESSAGES, model: MODEL })).text,
    stream: async () => {
      let n = 0;
      for await (const c of ours.stream.generateTextStream({ messages: MESSAGES, model: MODEL })) if (c.text !== undefined) n++;
      return n;
    },
  },
  openai: {
    chat: async () => (await openai.chat.chat.completions.create({ model: MODEL, messages: MESSAGES })).choices[0].message.content,
    stream: async () => {
      let n = 0;
      const s = await openai.stream.chat.completions.create({ model: MODEL, messages: MESSAGES, stream: true });
      for await (const c of s) if (c.choices[0]?.delta?.content !== undefined) n++;
      return n;
    },
  },
  undici: { chat: undiciChat, stream: undiciStream },
};

const names = Object.keys(clients);
const seq = Object.fromEntries(names.map((n) => [n, []]));
const conc = Object.fromEntries(names.map((n) => [n, []]));
const sse = Object.fromEntries(names.map((n) => [n, []]));

// Check the answers agree, and warm up.
const answers = await Promise.all(names.map((n) => clients[n].chat()));
if (new Set(answers).size !== 1) throw new Error(`clients disagree: ${JSON.stringify(answers)}`);
for (const n of names) for (let i = 0; i < 50; i++) await clients[n].chat();

for (let round = 0; round < ROUNDS; round++) {
  const order = names.map((_, i) => names[(i + round) % names.length]);
  for (const n of order) {
    for (let i = 0; i < SEQ / ROUNDS; i++) {
      const t = process.hrtime.bigint();
      await clients[n].chat();
      seq[n].push(Number(process.hrtime.bigint() - t) / 1000);
    }
    const t = process.hrtime.bigint();
    await Promise.all(Array.from({ length: CONC }, async () => { for (let i = 0; i < PER_TASK; i++) await clients[n].chat(); }));
    conc[n].push((CONC * PER_TASK) / (Number(process.hrtime.bigint() - t) / 1e9));
    const s = process.hrtime.bigint();
    const chunks = await clients[n].stream();
    sse[n].push(chunks / (Number(process.hrtime.bigint() - s) / 1e9));
  }
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const row = (label, m, fmt) => `| ${label} | ${names.map((n) => fmt(median(m[n]))).join(" | ")} |`;
const us = (v) => `${Math.round(v).toLocaleString("en")} µs`;
const rate = (v) => Math.round(v).toLocaleString("en");
const version = (m) => JSON.parse(readFileSync(join(PKG, "node_modules", m, "package.json"), "utf8")).version;
console.log(`Node ${process.version}, mode: ${quick ? "quick" : "full"}; openai ${version("openai")}, undici ${version("undici")}`);
console.log(`| scenario | ${names.join(" | ")} |`);
console.log(`|---|${names.map(() => "---:").join("|")}|`);
console.log(row("sequential chat call, p50", seq, us));
console.log(row(`${CONC} concurrent calls, calls/s`, conc, rate));
console.log(row(`SSE stream (${quick ? "2,000" : "50,000"} chunks), chunks/s`, sse, rate));
const r = (a, b, m) => (median(m[a]) / median(m[b])).toFixed(2);
console.log(
  `ratios: openai/ours p50 ${r("openai", "inferencekey", seq)}×, ours/undici p50 ${r("inferencekey", "undici", seq)}×, ` +
    `ours/openai calls/s ${r("inferencekey", "openai", conc)}×, ours/openai chunks/s ${r("inferencekey", "openai", sse)}×`,
);
await pool.close();
