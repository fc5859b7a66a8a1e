package com.inferencekey;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/** A rerank request: {@code documents} ranked against {@code query}; {@code topN} null for all. */
public record RerankRequest(String query, List<?> documents, Integer topN, Map<String, Object> extra,
                            @JsonIgnore Duration timeout) {
    public RerankRequest {
        documents = documents == null ? null : List.copyOf(documents);
    }

    public static RerankRequest of(String query, List<?> documents, Integer topN) {
        return new RerankRequest(query, documents, topN, null, null);
    }

    @JsonProperty("timeout")
    Double timeoutSeconds() { return Options.seconds(timeout); }
}
