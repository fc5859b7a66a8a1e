package com.inferencekey;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/** A rerank request: {@code documents} ranked against {@code query}; {@code topN} null for all. */
public record RerankRequest(String query, List<?> documents, Integer topN, Map<String, Object> extra,
                            @JsonIgnore Duration timeout, Integer maxRetries) {
    public RerankRequest {
        documents = documents == null ? null : List.copyOf(documents);
    }

    /** Without a per-call retry count (the client's applies). */
    public RerankRequest(String query, List<?> documents, Integer topN, Map<String, Object> extra, Duration timeout) {
        this(query, documents, topN, extra, timeout, null);
    }

    public static RerankRequest of(String query, List<?> documents, Integer topN) {
        return new RerankRequest(query, documents, topN, null, null, null);
    }

    /** The same request with this call's retry count (0 to 100). */
    public RerankRequest withMaxRetries(int n) { return new RerankRequest(query, documents, topN, extra, timeout, n); }

    @JsonProperty("timeout")
    Double timeoutSeconds() { return Options.seconds(timeout); }
}
