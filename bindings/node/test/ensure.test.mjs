// The control plane through the package against a real Manager: every OnDrift mode on an
// absent, in-sync and drifted workload, concurrent ensure(), get/list/delete, readiness.
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";

import { Backend, DriftError, ManagementClient, NotFoundError, OnDrift, ValidationError } from "@inferencekey/sdk";

import { project, uniqueSlug } from "./manager.mjs";

function spec(slug, extra = {}) {
  return {
    name: "Support bot",
    slug,
    model: "meta-llama/Llama-3.1-8B-Instruct",
    backend: Backend.Vllm,
    command: "vllm serve meta-llama/Llama-3.1-8B-Instruct --max-model-len 8192",
    ...extra,
  };
}

const MODES = Object.values(OnDrift);

describe("ensure() × OnDrift", () => {
  let p;
  before(async () => {
    p = await project();
  });

  test("the five modes are the core's", () => {
    assert.deepEqual(MODES, ["reconcile", "fail", "dry_run", "warn", "ignore"]);
  });

  for (const mode of MODES) {
    test(`absent workload, onDrift=${mode}`, async () => {
      const mgmt = ManagementClient.fromEnv();
      const s = uniqueSlug();
      const ref = await mgmt.ensure(spec(s), { onDrift: mode });
      assert.equal(ref.projectSlug, p.slug);
      assert.equal(ref.workloadSlug, s);
      if (mode === OnDrift.DryRun) {
        assert.equal(ref.action, "would_create");
        assert.equal(ref.workloadId, null);
        const fields = new Set(ref.plan.map((c) => c.field));
        for (const f of ["name", "model_name", "config"]) assert.ok(fields.has(f), f);
        await assert.rejects(mgmt.get(s), NotFoundError);
      } else {
        assert.equal(ref.action, "created");
        assert.ok(ref.workloadId);
        assert.equal((await mgmt.get(s)).id, ref.workloadId);
      }
    });

    test(`in-sync workload, onDrift=${mode}`, async () => {
      const mgmt = ManagementClient.fromEnv();
      const s = uniqueSlug();
      const created = await mgmt.ensure(spec(s));
      const before = await mgmt.get(s);
      const ref = await mgmt.ensure(spec(s), { onDrift: mode });
      assert.equal(ref.action, "unchanged");
      assert.deepEqual(ref.plan, []);
      assert.equal(ref.workloadId, created.workloadId);
      assert.equal((await mgmt.get(s)).updatedAt, before.updatedAt);
    });

    test(`drifted workload, onDrift=${mode}`, async () => {
      const mgmt = ManagementClient.fromEnv();
      const s = uniqueSlug();
      await mgmt.ensure(spec(s));
      const changed = spec(s, { description: "now with a description", name: "Support bot v2" });
      const warnings = [];
      const onWarning = (w) => warnings.push(w);
      process.on("warning", onWarning);
      let ref = null;
      try {
        if (mode === OnDrift.Fail) {
          const err = await mgmt.ensure(changed, { onDrift: mode }).then(
            () => assert.fail("no DriftError"),
            (e) => e,
          );
          assert.ok(err instanceof DriftError);
          assert.ok(err instanceof ValidationError);
          assert.equal(err.code, "drift_detected");
          assert.deepEqual(new Set(err.plan.map((c) => c.field)), new Set(["name", "description"]));
          assert.ok(["name", "description"].includes(err.field));
        } else {
          ref = await mgmt.ensure(changed, { onDrift: mode });
        }
        // process warnings are emitted on the next tick
        await new Promise((r) => setImmediate(r));
      } finally {
        process.off("warning", onWarning);
      }
      const live = await mgmt.get(s);
      if (mode === OnDrift.Reconcile) {
        assert.equal(ref.action, "updated");
        assert.equal(live.name, "Support bot v2");
        assert.equal(live.description, "now with a description");
        assert.equal((await mgmt.ensure(changed)).action, "unchanged");
      } else {
        assert.equal(live.name, "Support bot");
        if (ref) {
          assert.equal(ref.action, { dry_run: "would_update", warn: "drifted", ignore: "drifted" }[mode]);
          assert.deepEqual(ref.plan.map((c) => c.field), ["name", "description"]);
        }
      }
      const drift = warnings.filter((w) => w.name === "InferenceKeyDriftWarning");
      assert.equal(drift.length, mode === OnDrift.Warn ? 1 : 0);
      if (mode === OnDrift.Warn) assert.equal(ref.warning, drift[0].message);
    });
  }

  test("20 concurrent ensure() on one slug converge on one workload", async () => {
    const mgmt = ManagementClient.fromEnv();
    const s = uniqueSlug("race");
    const refs = await Promise.all(Array.from({ length: 20 }, () => mgmt.ensure(spec(s))));
    const ids = new Set(refs.map((r) => r.workloadId));
    assert.equal(ids.size, 1);
    assert.equal(refs.filter((r) => r.action === "created").length, 1);
    const all = (await mgmt.list()).filter((w) => w.slug === s);
    assert.equal(all.length, 1);
  });

  test("get, list, delete", async () => {
    const mgmt = ManagementClient.fromEnv();
    const s = uniqueSlug();
    const ref = await mgmt.ensure(spec(s));
    assert.equal((await mgmt.get(s)).modelName, "meta-llama/Llama-3.1-8B-Instruct");
    assert.ok((await mgmt.list()).some((w) => w.id === ref.workloadId));
    await mgmt.delete(s);
    await assert.rejects(mgmt.get(s), (e) => e instanceof NotFoundError && e.status === 404 && e.code === "not_found");
  });

  test("waitUntilReady and readinessEvents on a private worker", async () => {
    const mgmt = ManagementClient.fromEnv();
    const s = uniqueSlug("ready");
    await mgmt.ensure(spec(s, { workerId: p.workerId }));
    const ready = await mgmt.waitUntilReady(s, { timeout: 120 });
    assert.equal(ready.phase, "ready");
    assert.equal(typeof ready.elapsedMs, "number");
    const phases = [];
    for await (const ev of mgmt.readinessEvents(s)) phases.push(ev.phase);
    assert.equal(phases.at(-1), "ready");
  });

  test("a cancelled ensure() rejects with the signal's reason", async () => {
    const mgmt = ManagementClient.fromEnv();
    const ac = new AbortController();
    ac.abort(new Error("stop"));
    await assert.rejects(mgmt.ensure(spec(uniqueSlug()), { signal: ac.signal }), /stop/);
  });
});

