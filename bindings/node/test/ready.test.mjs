// waitUntilReady's progress callback and abort, against a real Manager running the reference
// engine with a startup delay (a real child process that answers /health only after it).
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";

import { ManagementClient, ServerError, TimeoutError } from "@inferencekey/sdk";

import { FaultProxy } from "./faultproxy.mjs";
import { managerBinary, project, uniqueSlug } from "./manager.mjs";

/** A workload whose engine answers /health only `delayMs` after it starts. */
function slow(slug, delayMs) {
  return {
    name: slug,
    slug,
    model: "m",
    backend: "vllm",
    command: `${managerBinary()} engine --model m --host {host} --port {port} --startup-delay-ms ${delayMs}`,
  };
}

describe("waitUntilReady", () => {
  let p;
  before(async () => {
    p = await project();
  });

  test("onEvent sees every event in order, the final ready one before the Promise resolves", async () => {
    const mgmt = ManagementClient.fromEnv();
    const s = uniqueSlug("progress");
    await mgmt.ensure(slow(s, 1500));
    const seen = [];
    const ready = await mgmt.waitUntilReady(s, { timeout: 120, onEvent: (ev) => seen.push(ev) });
    assert.equal(ready.phase, "ready");
    assert.ok(seen.length >= 2, `progress before ready: ${JSON.stringify(seen)}`);
    assert.deepEqual(seen.at(-1), ready, "the last event seen is the one returned");
    assert.ok(
      seen.slice(0, -1).every((ev) => ev.phase !== "ready" && typeof ev.message === "string"),
      JSON.stringify(seen),
    );
    assert.ok(seen.some((ev) => ev.phase === "bootstrapping"), JSON.stringify(seen.map((e) => e.phase)));
    // Elapsed time only grows.
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i].elapsedMs >= seen[i - 1].elapsedMs, JSON.stringify(seen));
    // Already ready: one event, delivered before it returns.
    const again = [];
    const second = await mgmt.waitUntilReady(s, { onEvent: (ev) => again.push(ev.phase) });
    assert.equal(second.phase, "ready");
    assert.deepEqual(again, ["ready"]);
    await mgmt.delete(s);
  });

  test("abort mid-wait rejects with the signal's reason and closes the readiness stream", async () => {
    const proxy = await new FaultProxy(p.manager.url).start();
    const mgmt = ManagementClient.fromEnv();
    const s = uniqueSlug("abort");
    await mgmt.ensure(slow(s, 600_000));
    try {
      const through = new ManagementClient({ baseUrl: proxy.url });
      const ac = new AbortController();
      const seen = [];
      const reason = new Error("stop waiting");
      const pending = through.waitUntilReady(s, {
        signal: ac.signal,
        onEvent: (ev) => {
          seen.push(ev.phase);
          // Abort once the engine is starting: the wait is now a long one.
          if (ev.phase === "bootstrapping") ac.abort(reason);
        },
      });
      await assert.rejects(pending, (e) => e === reason);
      assert.ok(seen.includes("bootstrapping"), JSON.stringify(seen));
      assert.ok(!seen.includes("ready"));
      const after = seen.length;
      // The socket of the stream is gone, not left open behind the rejected Promise.
      await proxy.drained();
      assert.equal(proxy.open.size, 0);
      assert.equal(seen.length, after, "no event is delivered after the abort");
      // A signal aborted before the call rejects at once, with nothing sent.
      const seenBefore = proxy.seen;
      await assert.rejects(
        through.waitUntilReady(s, { signal: AbortSignal.abort(reason), onEvent: () => assert.fail("no event") }),
        (e) => e === reason,
      );
      await assert.rejects(through.waitUntilReady(s, { signal: AbortSignal.abort(reason) }), (e) => e === reason);
      assert.equal(proxy.seen, seenBefore);
    } finally {
      proxy.close();
      await mgmt.delete(s);
    }
  });

  test("an exception in onEvent stops the wait and is what it rejects with", async () => {
    const proxy = await new FaultProxy(p.manager.url).start();
    const mgmt = ManagementClient.fromEnv();
    const s = uniqueSlug("throws");
    await mgmt.ensure(slow(s, 600_000));
    try {
      const through = new ManagementClient({ baseUrl: proxy.url });
      const boom = new RangeError("my handler failed");
      let calls = 0;
      await assert.rejects(
        through.waitUntilReady(s, {
          onEvent: () => {
            calls += 1;
            throw boom;
          },
        }),
        (e) => e === boom,
      );
      assert.equal(calls, 1);
      await proxy.drained();
    } finally {
      proxy.close();
      await mgmt.delete(s);
    }
  });

  test("the timeout and a failed start are typed, after their events", async () => {
    const mgmt = ManagementClient.fromEnv();
    const s = uniqueSlug("timeout");
    await mgmt.ensure(slow(s, 600_000));
    const seen = [];
    await assert.rejects(
      mgmt.waitUntilReady(s, { timeout: 1, onEvent: (ev) => seen.push(ev.phase) }),
      (e) => e instanceof TimeoutError,
    );
    assert.ok(seen.length >= 1 && !seen.includes("ready"), JSON.stringify(seen));
    await mgmt.delete(s);

    const broken = uniqueSlug("broken");
    await mgmt.ensure({ ...slow(broken, 0), command: `${managerBinary()} engine --model m --no-such-flag` });
    const phases = [];
    await assert.rejects(
      mgmt.waitUntilReady(broken, { timeout: 120, onEvent: (ev) => phases.push(ev.phase) }),
      (e) => e instanceof ServerError && e.code === "workload_error",
    );
    assert.equal(phases.at(-1), "error", JSON.stringify(phases));
    await mgmt.delete(broken);
  });

  test("onEvent must be a function", async () => {
    const mgmt = ManagementClient.fromEnv();
    await assert.rejects(mgmt.waitUntilReady("anything", { onEvent: "log" }), (e) => {
      assert.ok(e instanceof TypeError);
      assert.match(e.message, /onEvent must be a function/);
      return true;
    });
  });
});
