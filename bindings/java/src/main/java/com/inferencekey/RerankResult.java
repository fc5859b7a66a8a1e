package com.inferencekey;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import java.util.Map;

/** Documents ranked against a query, best first. */
public record RerankResult(List<Ranked> results, String model, Map<String, Object> usage, String requestId,
                           Map<String, String> headers) {
    /** One ranked document: its index in the request, its score, and (when sent back) the document. */
    public record Ranked(int index, double relevanceScore, JsonNode document) {}
}
