// N sequential chat calls with one client, for `perf stat` (benches/node_run.py --perf):
//   node benches/node/calls.mjs BASE_URL inferencekey|openai|undici N
// Warm-up (50 calls) happens in every run, so the per-call figures subtract an N=0 run.
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const PKG = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "bindings", "node");
const require = createRequire(join(PKG, "package.json"));
const [base, which, n] = process.argv.slice(2);
const KEY = "ik_live_benchbench_notchecked";
const MODEL = "meta-llama/Llama-3.1-8B-Instruct";
const MESSAGES = [{ role: "user", content: "Hola" }];

let chat;
if (which === "inferencekey") {
  const { DataClient } = require(PKG);
  const ep = new DataClient({ baseUrl: base, apiKey: KEY, project: "bench" }).endpoint("chat");
  chat = async () => (await ep.generateText({ messages: MESSAGES, model: MODEL })).text;
} else if (which === "openai") {
  const OpenAI = require("openai").default ?? require("openai");
  const c = new OpenAI({ baseURL: `${base}/endpoint/bench/chat/v1`, apiKey: KEY, maxRetries: 0 });
  chat = async () => (await c.chat.completions.create({ model: MODEL, messages: MESSAGES })).choices[0].message.content;
} else {
  const { Pool } = require("undici");
  const pool = new Pool(base, { connections: 1 });
  const body = JSON.stringify({ model: MODEL, messages: MESSAGES });
  const headers = { "content-type": "application/json", authorization: `Bearer ${KEY}` };
  chat = async () => {
    const r = await pool.request({ path: "/endpoint/bench/chat/v1/chat/completions", method: "POST", body, headers });
    return (await r.body.json()).choices[0].message.content;
  };
}
for (let i = 0; i < 50; i++) await chat();
for (let i = 0; i < Number(n); i++) await chat();
process.exit(0);
