package com.inferencekey;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/** An embeddings request: the {@code input} texts, an optional model, body {@code extra}s and a timeout. */
public record EmbedRequest(List<String> input, String model, Map<String, Object> extra, @JsonIgnore Duration timeout,
                           Integer maxRetries) {
    public EmbedRequest {
        input = input == null ? null : List.copyOf(input);
    }

    /** Without a per-call retry count (the client's applies). */
    public EmbedRequest(List<String> input, String model, Map<String, Object> extra, Duration timeout) {
        this(input, model, extra, timeout, null);
    }

    /** Embeddings of {@code input} with the workload's model. */
    public static EmbedRequest of(List<String> input) { return new EmbedRequest(input, null, null, null, null); }

    /** The same request with this call's retry count (0 to 100). */
    public EmbedRequest withMaxRetries(int n) { return new EmbedRequest(input, model, extra, timeout, n); }

    @JsonProperty("timeout")
    Double timeoutSeconds() { return Options.seconds(timeout); }
}
