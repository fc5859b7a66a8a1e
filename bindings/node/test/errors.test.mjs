// Errors as a user meets them: one class per core error kind (checked against the core's
// table), every field filled from real Manager answers, `instanceof` through the hierarchy,
// wrong tokens refused both ways, and tokens never in a message, `util.inspect` or
// `JSON.stringify`.
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { inspect } from "node:util";

import * as sdk from "@inferencekey/sdk";
import {
  AuthError,
  Backend,
  ConfigurationError,
  ConflictError,
  ConnectionError,
  DataClient,
  ERROR_CLASSES,
  InferenceKeyError,
  ManagementClient,
  NotFoundError,
  PermissionDenied,
  RateLimitError,
  ServerError,
  ValidationError,
  WorkloadSpec,
} from "@inferencekey/sdk";

import { init, manager, project, uniqueSlug } from "./manager.mjs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { native } = require("../dist/native.js");

function spec(slug, extra = {}) {
  return { name: "n", slug, model: "m/m", backend: Backend.Vllm, command: "vllm serve m/m", ...extra };
}

async function caught(promise) {
  return promise.then(
    () => assert.fail("expected a rejection"),
    (e) => e,
  );
}

describe("errors", () => {
  let p;
  before(async () => {
    p = await project();
  });

  test("one class per core error kind, and the enums are the core's", () => {
    const kinds = native.errorKinds().filter((k) => k !== "cancelled");
    assert.deepEqual(Object.keys(ERROR_CLASSES).sort(), [...kinds].sort());
    for (const Class of Object.values(ERROR_CLASSES)) assert.ok(Class === InferenceKeyError || Class.prototype instanceof InferenceKeyError);
    assert.ok(sdk.DriftError.prototype instanceof ValidationError);
    const core = native.enums();
    for (const name of ["Backend", "TaskType", "ExecutionPolicy", "OnDrift"]) {
      assert.deepEqual(Object.values(sdk[name]), core[name], name);
    }
    assert.equal(Backend.Vllm, "vllm");
    assert.equal(Backend.VllmOmni, "vllm-omni");
  });

  test("wrong token is refused locally, both ways", () => {
    assert.throws(
      () => new ManagementClient({ project: p.slug, sdkToken: p.key }),
      (e) => {
        assert.ok(e instanceof PermissionDenied && e instanceof InferenceKeyError && e instanceof Error);
        assert.equal(e.code, "wrong_credential_type");
        assert.equal(e.field, "sdk_token");
        assert.ok(e.message.startsWith("permission denied [wrong_credential_type]"));
        assert.ok(!e.message.includes(p.key));
        return true;
      },
    );
    assert.throws(
      () => DataClient.fromEnv().endpoint("anything", { apiKey: p.env.INFERENCEKEY_SDK_TOKEN }),
      (e) => e instanceof PermissionDenied && e.code === "wrong_credential_type" && !e.message.includes(p.env.INFERENCEKEY_SDK_TOKEN),
    );
  });

  test("wrong token is refused by the server, both ways", async () => {
    const url = p.manager.url;
    let r = await fetch(`${url}/api/projects/${p.slug}/workloads`, { headers: { authorization: `Bearer ${p.key}` } });
    assert.equal(r.status, 403);
    assert.equal((await r.json()).error.code, "wrong_credential_type");
    r = await fetch(`${url}/endpoint/${p.slug}/x/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${p.env.INFERENCEKEY_SDK_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ messages: [{ role: "user", content: "hi" }] }),
    });
    assert.equal(r.status, 403);
    assert.equal((await r.json()).error.code, "wrong_credential_type");
  });

  test("control-plane errors carry status, code, field, requestId", async () => {
    const auth = await caught(new ManagementClient({ project: p.slug, sdkToken: "ik_sdk_unknown0000_nosuchsecret" }).list());
    assert.ok(auth instanceof AuthError);
    assert.equal(auth.status, 401);
    assert.equal(auth.code, "unauthenticated");
    assert.ok(auth.requestId);
    assert.ok(!auth.message.includes("nosuchsecret"));

    const m = await manager();
    const other = init(m, "other-" + uniqueSlug());
    const denied = await caught(ManagementClient.fromEnv().list({ project: other.INFERENCEKEY_PROJECT }));
    assert.ok(denied instanceof PermissionDenied);
    assert.equal(denied.status, 403);
    assert.equal(denied.code, "project_scope_mismatch");

    const invalid = await caught(ManagementClient.fromEnv().ensure(spec(uniqueSlug(), { workerId: "wrk_notregistered" })));
    assert.ok(invalid instanceof ValidationError);
    assert.equal(invalid.status, 400);
    assert.equal(invalid.field, "worker_id");

    const local = await caught(
      ManagementClient.fromEnv().ensure(
        spec(uniqueSlug(), { executionPolicy: "autoscaling", executionPolicyConfig: { min_replicas: 1, max_replicas: 3 } }),
      ),
    );
    assert.ok(local instanceof ValidationError);
    assert.equal(local.status, null);
    assert.match(local.message, /min_workers/);
    assert.ok(local.problems.length >= 1);
    assert.throws(() => WorkloadSpec(spec("")), (e) => e instanceof ValidationError && e.field === "slug");

    const secret = await caught(ManagementClient.fromEnv().ensure(spec(uniqueSlug(), { command: `vllm serve m --api-key ${p.key}` })));
    assert.ok(secret instanceof ConfigurationError);
    assert.match(secret.message, /secrets must never go in specs/);
    assert.ok(!secret.message.includes(p.key));

    const missing = await caught(ManagementClient.fromEnv().get(uniqueSlug()));
    assert.ok(missing instanceof NotFoundError && missing.status === 404);
  });

  test("missing configuration names the fix", () => {
    const saved = process.env.INFERENCEKEY_SDK_TOKEN;
    try {
      delete process.env.INFERENCEKEY_SDK_TOKEN;
      assert.throws(() => ManagementClient.fromEnv(), (e) => e instanceof ConfigurationError && /INFERENCEKEY_SDK_TOKEN/.test(e.message));
      assert.throws(() => new ManagementClient({ sdkToken: saved, timeoutt: 3 }), (e) => e instanceof ConfigurationError && e.field === "timeoutt");
    } finally {
      process.env.INFERENCEKEY_SDK_TOKEN = saved;
    }
  });

  test("every HTTP status class from a real answer", async () => {
    const s = uniqueSlug("status");
    await ManagementClient.fromEnv().ensure({ name: s, slug: s, model: "m/m", backend: Backend.Vllm, command: "vllm serve m/m" });
    const ep = new DataClient({ maxRetries: 0 }).endpoint(s, { apiKey: p.key });
    // [engine status, class, status the caller gets]. An engine refusing the Manager's own
    // credentials (401/403) is the engine failing: 502 (docs/contract.md, "Errors").
    const table = [
      [400, ValidationError, 400],
      [401, ServerError, 502],
      [403, ServerError, 502],
      [404, NotFoundError, 404],
      [409, ConflictError, 409],
      [422, ValidationError, 422],
      [429, RateLimitError, 429],
      [500, ServerError, 500],
      [503, ServerError, 503],
    ];
    for (const [status, Class, answered] of table) {
      const e = await caught(ep.generateText({ prompt: `[[ik:status:${status}]] x` }));
      assert.ok(e instanceof Class, `${status}: got ${e.constructor.name}: ${e.message}`);
      assert.equal(e.status, answered);
      assert.ok(e.requestId, `${status} has a request id`);
    }
    const conn = await caught(new DataClient({ baseUrl: "http://127.0.0.1:1", maxRetries: 0 }).endpoint(s, { apiKey: p.key }).generateText({ prompt: "x" }));
    assert.ok(conn instanceof ConnectionError, conn.message);
  });

  test("tokens never show in inspect or JSON.stringify", async () => {
    const mgmt = ManagementClient.fromEnv();
    const data = new DataClient({ apiKey: p.key });
    const ep = data.endpoint("some-workload");
    const ref = await mgmt.ensure(spec(uniqueSlug()));
    const err = await caught(new ManagementClient({ project: p.slug, sdkToken: p.env.INFERENCEKEY_SDK_TOKEN + "x" }).list());
    for (const v of [mgmt, data, ep, ref, err]) {
      for (const text of [inspect(v, { depth: 10, showHidden: true }), JSON.stringify(v), String(v)]) {
        assert.ok(!text.includes(p.key), text);
        assert.ok(!text.includes(p.env.INFERENCEKEY_SDK_TOKEN), text);
      }
    }
    assert.match(inspect(ep), /apiKey: 'ik_live_/);
    assert.equal(ep.revealApiKey(), p.key);
  });
});
