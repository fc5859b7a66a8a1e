// The data plane through the package, a real Manager's gateway and a real engine process:
// results, streaming (break, truncation, in-band errors, abort), retries on 503, timeouts,
// embeddings, jobs, and the official openai client pointed at `ep.baseUrl`.
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";

import OpenAI from "openai";

import {
  Backend,
  DataClient,
  InferenceKeyError,
  ManagementClient,
  ProtocolError,
  ServerError,
  TimeoutError,
  ValidationError,
} from "@inferencekey/sdk";

import { FaultProxy } from "./faultproxy.mjs";
import { project, uniqueSlug } from "./manager.mjs";

const MODEL = "meta-llama/Llama-3.1-8B-Instruct";

async function ensure(slug, taskType = "text2text", model = MODEL) {
  await ManagementClient.fromEnv().ensure({
    name: slug,
    slug,
    model,
    backend: Backend.Vllm,
    command: `vllm serve ${model}`,
    taskType,
  });
}

describe("data plane", () => {
  let p;
  let chat;
  let slug;
  before(async () => {
    p = await project();
    slug = uniqueSlug("chat");
    await ensure(slug);
    chat = DataClient.fromEnv().endpoint(slug, { apiKey: p.key });
  });

  test("generateText right after ensure", async () => {
    const out = await chat.generateText({ prompt: "Hola", temperature: 0.2, maxTokens: 300 });
    assert.match(out.text, /Hola/);
    assert.equal(out.model, MODEL);
    assert.ok(["stop", "length"].includes(out.finishReason));
    assert.ok(out.usage.total_tokens > 0);
    assert.equal(out.raw.choices[0].message.content, out.text);
    assert.equal((await chat.generateText({ prompt: "Hola", temperature: 0.2, maxTokens: 300 })).text, out.text);
    // The result carries the response: its request id and headers.
    assert.ok(out.requestId);
    assert.equal(out.headers["x-request-id"], out.requestId);
    assert.match(out.headers["content-type"], /^application\/json/);
  });

  test("messages and options; bad requests name the field", async () => {
    const out = await chat.generateText({
      messages: [
        { role: "system", content: "be brief" },
        { role: "user", content: "ping pong" },
      ],
      maxTokens: 5,
      seed: 7,
      topP: 0.9,
      extra: { user: "test" },
    });
    assert.equal(out.text.split(" ").length, 5);
    assert.equal(out.finishReason, "length");
    await assert.rejects(
      chat.generateText({ prompt: "a", messages: [{ role: "user", content: "b" }] }),
      (e) => e instanceof ValidationError && e.field === "prompt",
    );
    await assert.rejects(chat.generateText({}), ValidationError);
    await assert.rejects(
      chat.generateText({ prompt: "a", temprature: 1 }),
      (e) => e instanceof ValidationError && e.field === "temprature",
    );
  });

  test("streaming is an async iterator", async () => {
    const parts = [];
    const finish = [];
    for await (const chunk of chat.generateTextStream({ prompt: "stream me", maxTokens: 50 })) {
      parts.push(chunk.text);
      if (chunk.finishReason) finish.push(chunk.finishReason);
    }
    const text = parts.join("");
    assert.equal(text.split(" ").length, 50);
    assert.deepEqual(finish, ["length"]);
    assert.equal(text, (await chat.generateText({ prompt: "stream me", maxTokens: 50 })).text);
  });

  test("concurrent calls settle together, each with its own answer", async () => {
    // Calls finishing at once share one wake-up of the JS thread (src/runtime.rs drains a
    // queue of settlements): every Promise must still get its own result, errors included.
    const prompts = Array.from({ length: 48 }, (_, i) => `word${i}`);
    const outs = await Promise.all(
      prompts.map((prompt, i) =>
        i % 8 === 7 ? chat.generateText({ prompt, temprature: 1 }).catch((e) => e) : chat.generateText({ prompt, maxTokens: 50 }),
      ),
    );
    outs.forEach((out, i) => {
      if (i % 8 === 7) assert.ok(out instanceof ValidationError && out.field === "temprature");
      else assert.match(out.text, new RegExp(prompts[i]));
    });
  });

  test("break closes the connection", async () => {
    const proxy = await new FaultProxy(p.manager.url).start();
    try {
      const ep = new DataClient({ baseUrl: proxy.url }).endpoint(slug, { apiKey: p.key });
      let n = 0;
      for await (const chunk of ep.generateTextStream({ prompt: "[[ik:chunk-delay:20]] long", maxTokens: 100000 })) {
        assert.equal(typeof chunk.text, "string");
        if (++n === 3) break;
      }
      assert.equal(proxy.seen, 1);
      await proxy.drained();
      assert.ok((await ep.generateText({ prompt: "after", maxTokens: 3 })).text);
    } finally {
      proxy.close();
    }
  });

  test("abort mid-stream closes the connection", async () => {
    const proxy = await new FaultProxy(p.manager.url).start();
    try {
      const ep = new DataClient({ baseUrl: proxy.url }).endpoint(slug, { apiKey: p.key });
      const ac = new AbortController();
      const got = [];
      const err = await (async () => {
        for await (const chunk of ep.generateTextStream({
          prompt: "[[ik:chunk-delay:20]] long",
          maxTokens: 100000,
          signal: ac.signal,
        })) {
          got.push(chunk);
          if (got.length === 3) setTimeout(() => ac.abort(), 10);
        }
      })().then(
        () => null,
        (e) => e,
      );
      assert.ok(err, "the stream did not end with the abort");
      assert.equal(err.name, "AbortError");
      assert.ok(got.length >= 3);
      await proxy.drained();
    } finally {
      proxy.close();
    }
  });

  test("abort of a pending call drops it and closes the socket", async () => {
    const proxy = await new FaultProxy(p.manager.url).start();
    try {
      const ep = new DataClient({ baseUrl: proxy.url }).endpoint(slug, { apiKey: p.key });
      const ac = new AbortController();
      const pending = ep.generateText({ prompt: "[[ik:slow:5000]] hi", signal: ac.signal });
      while (proxy.seen === 0) await new Promise((r) => setTimeout(r, 10));
      ac.abort();
      await assert.rejects(pending, (e) => e.name === "AbortError");
      await proxy.drained();
    } finally {
      proxy.close();
    }
  });

  test("stream truncation is a ProtocolError after the chunks that arrived", async () => {
    const got = [];
    await assert.rejects(
      (async () => {
        for await (const c of chat.generateTextStream({ prompt: "[[ik:truncate]] cut me" })) got.push(c.text);
      })(),
      (e) => e instanceof ProtocolError && e.code === "stream_truncated",
    );
    assert.ok(got.length > 0);
  });

  test("an in-band stream error is a ServerError", async () => {
    await assert.rejects(
      (async () => {
        for await (const _ of chat.generateTextStream({ prompt: "[[ik:error]] fail me" }));
      })(),
      (e) => e instanceof ServerError && /stream failed/.test(e.message),
    );
  });

  test("retries on 503 with Retry-After", async () => {
    const proxy = await new FaultProxy(p.manager.url, 2).start();
    try {
      const ep = new DataClient({ baseUrl: proxy.url }).endpoint(slug, { apiKey: p.key });
      assert.ok((await ep.generateText({ prompt: "retry me", maxTokens: 3 })).text);
      assert.equal(proxy.seen, 3);
    } finally {
      proxy.close();
    }
  });

  test("retries give up with the last error", async () => {
    const proxy = await new FaultProxy(p.manager.url, 10).start();
    try {
      const ep = new DataClient({ baseUrl: proxy.url, maxRetries: 2 }).endpoint(slug, { apiKey: p.key });
      await assert.rejects(
        ep.generateText({ prompt: "x" }),
        (e) => e instanceof ServerError && e.status === 503 && e.code === "workload_not_ready",
      );
      assert.equal(proxy.seen, 3);
    } finally {
      proxy.close();
    }
  });

  test("final() folds the stream into one TextResult, tool calls included", async () => {
    let whole = "";
    for await (const c of chat.generateTextStream({ prompt: "Tell me a story" })) whole += c.text;
    // A slow stream (the engine waits 20 ms between chunks) closed before its end has no
    // whole answer: `break` closes the connection.
    const slow = chat.generateTextStream({ prompt: "[[ik:chunk-delay:20]] long", maxTokens: 50 });
    for await (const c of slow) if (c.text) break;
    await assert.rejects(slow.final(), (e) => e.code === "stream_closed");
    const stream = chat.generateTextStream({ prompt: "Tell me a story" });
    const first = (await stream.next()).value;
    const folded = await stream.final();
    assert.equal(folded.text, whole);
    assert.ok(folded.text.startsWith(first.text));
    const direct = await chat.generateTextStream({ prompt: "Tell me a story" }).final();
    assert.equal(direct.text, whole);
    assert.ok(["stop", "length"].includes(direct.finishReason));
    assert.equal(direct.headers["x-request-id"], direct.requestId);

    const tools = [{ type: "function", function: { name: "lookup_order", parameters: { type: "object" } } }];
    const extra = { tool_choice: { type: "function", function: { name: "lookup_order" } } };
    const plain = await chat.generateText({ prompt: "where is order 42", tools, extra });
    const called = await chat.generateTextStream({ prompt: "where is order 42", tools, extra }).final();
    assert.equal(called.finishReason, "tool_calls");
    assert.deepEqual(called.message.tool_calls, plain.message.tool_calls);
  });

  test("maxRetries per call overrides the client's; errors carry the response headers", async () => {
    const proxy = await new FaultProxy(p.manager.url, 3).start();
    try {
      const ep = new DataClient({ baseUrl: proxy.url, maxRetries: 0 }).endpoint(slug, { apiKey: p.key });
      const err = await ep.generateText({ prompt: "x" }).catch((e) => e);
      assert.ok(err instanceof ServerError && err.status === 503, String(err));
      assert.equal(proxy.seen, 1);
      assert.equal(err.headers["retry-after"], "0.05");
      // Two more injected failures, then the real answer.
      const out = await ep.generateText({ prompt: "x", maxTokens: 2, maxRetries: 3 });
      assert.ok(out.text);
      assert.equal(proxy.seen, 4);
      await assert.rejects(
        ep.generateText({ prompt: "x", maxRetries: 101 }),
        (e) => e.field === "max_retries" && e.kind === "configuration",
      );
    } finally {
      proxy.close();
    }
  });

  test("timeout is a TimeoutError", async () => {
    await assert.rejects(
      chat.generateText({ prompt: "[[ik:slow:3000]] hi", timeout: 0.3 }),
      (e) => e instanceof TimeoutError && e instanceof InferenceKeyError,
    );
  });

  test("429 is a RateLimitError with retryAfter", async () => {
    const ep = new DataClient({ maxRetries: 0 }).endpoint(slug, { apiKey: p.key });
    await assert.rejects(ep.generateText({ prompt: "[[ik:status:429]] x" }), (e) => {
      assert.equal(e.constructor.name, "RateLimitError");
      assert.equal(e.status, 429);
      assert.equal(e.retryAfter, 1);
      assert.ok(e.requestId);
      return true;
    });
  });

  test("embeddings, ordered", async () => {
    const s = uniqueSlug("emb");
    await ensure(s, "embedding", "BAAI/bge-large-en-v1.5");
    const ep = DataClient.fromEnv().endpoint(s, { apiKey: p.key });
    const emb = await ep.embed({ input: ["invoice #42", "refund policy"] });
    assert.equal(emb.embeddings.length, 2);
    assert.ok(emb.embeddings[0].length > 0);
    const single = await ep.embed({ input: "refund policy" });
    single.embeddings[0].forEach((v, i) => assert.ok(Math.abs(v - emb.embeddings[1][i]) < 1e-6));
  });

  test("jobs: submit, status, wait", async () => {
    const id = await chat.submitJob({ kind: "chat", body: { messages: [{ role: "user", content: "job" }], max_tokens: 3 } });
    assert.ok(id);
    const done = await chat.waitJob(id, { timeout: 60 });
    assert.equal(done.status, "succeeded");
    assert.equal((await chat.jobStatus(id)).jobId, id);
    await assert.rejects(chat.submitJob({ kind: "nope", body: {} }), (e) => e instanceof ValidationError && e.field === "kind");
  });

  test("the official openai client works against ep.baseUrl", async () => {
    const client = new OpenAI({ baseURL: chat.baseUrl, apiKey: chat.revealApiKey(), maxRetries: 0 });
    const out = await client.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "Hola" }] });
    assert.match(out.choices[0].message.content, /Hola/);
    const parts = [];
    const stream = await client.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "Hola" }], stream: true });
    for await (const c of stream) if (c.choices.length) parts.push(c.choices[0].delta.content ?? "");
    assert.equal(parts.join(""), out.choices[0].message.content);
  });
});
