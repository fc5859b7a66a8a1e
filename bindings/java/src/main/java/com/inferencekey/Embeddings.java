package com.inferencekey;

import java.util.List;
import java.util.Map;

/** Embedding vectors, in input order, and the model that made them. */
public record Embeddings(List<float[]> embeddings, String model, Map<String, Object> usage, String requestId,
                         Map<String, String> headers) {}
