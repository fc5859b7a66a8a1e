package com.inferencekey;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.time.Duration;
import java.util.Base64;

/**
 * An async job: a {@code kind} ({@code chat}, {@code embeddings}, {@code rerank}, ...) and
 * either a JSON {@code body} or binary bytes with their content type; {@code context} is
 * echoed to the webhook; {@code webhookUrl}, when set, receives this job's result instead of
 * the workload's webhook URL.
 */
public record JobRequest(String kind, Object body, @JsonIgnore byte[] bytes, String contentType, Object context,
                         @JsonIgnore Duration timeout, Integer maxRetries, String webhookUrl) {

    /** Without a per-job webhook URL. */
    public JobRequest(String kind, Object body, byte[] bytes, String contentType, Object context, Duration timeout,
                      Integer maxRetries) {
        this(kind, body, bytes, contentType, context, timeout, maxRetries, null);
    }

    /** Without a per-call retry count (the client's applies). */
    public JobRequest(String kind, Object body, byte[] bytes, String contentType, Object context, Duration timeout) {
        this(kind, body, bytes, contentType, context, timeout, null, null);
    }

    /** A job with a JSON body. */
    public static JobRequest json(String kind, Object body) { return new JobRequest(kind, body, null, null, null, null, null, null); }

    /** A job with a binary body (audio, images). */
    public static JobRequest binary(String kind, byte[] bytes, String contentType) {
        return new JobRequest(kind, null, bytes.clone(), contentType, null, null, null, null);
    }

    /** The same job with a webhook context. */
    public JobRequest withContext(Object ctx) { return new JobRequest(kind, body, bytes, contentType, ctx, timeout, maxRetries, webhookUrl); }

    /** The same job with a call timeout. */
    public JobRequest withTimeout(Duration t) { return new JobRequest(kind, body, bytes, contentType, context, t, maxRetries, webhookUrl); }

    /** The same job with this call's retry count (0 to 100). */
    public JobRequest withMaxRetries(int n) { return new JobRequest(kind, body, bytes, contentType, context, timeout, n, webhookUrl); }

    /** The same job delivered to this URL instead of the workload's webhook URL. */
    public JobRequest withWebhookUrl(String url) { return new JobRequest(kind, body, bytes, contentType, context, timeout, maxRetries, url); }

    @JsonProperty("body_b64")
    String bodyB64() { return bytes == null ? null : Base64.getEncoder().encodeToString(bytes); }

    @JsonProperty("timeout")
    Double timeoutSeconds() { return timeout == null ? null : timeout.toNanos() / 1e9; }
}
