// Webhook verification, as a receiver written in Node uses it.
import assert from "node:assert/strict";
import { test } from "node:test";

import { ValidationError, webhooks } from "@inferencekey/sdk";

test("a signed delivery verifies; a forgery, a replay and a malformed header do not", () => {
  const body = '{"job_id":"j1","status":"succeeded"}';
  const now = 1_700_000_000;
  const header = webhooks.sign(body, "whsec_test", now);
  webhooks.verify(body, header, "whsec_test", { now });
  webhooks.verify(Buffer.from(body), header, Buffer.from("whsec_test"), { now: now + 10 });
  const code = (fn) => {
    try {
      fn();
    } catch (e) {
      assert.ok(e instanceof ValidationError, String(e));
      return e.code;
    }
    assert.fail("verified");
  };
  assert.equal(code(() => webhooks.verify(body + " ", header, "whsec_test", { now })), "invalid_signature");
  assert.equal(code(() => webhooks.verify(body, header, "other", { now })), "invalid_signature");
  assert.equal(code(() => webhooks.verify(body, header, "whsec_test", { now: now + 3600 })), "signature_expired");
  assert.equal(code(() => webhooks.verify(body, "garbage", "whsec_test", { now })), "malformed_signature");
  assert.equal(webhooks.SIGNATURE_HEADER, "X-InferenceKey-Signature");
});
