package com.inferencekey;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Map;

/** One piece of a streamed chat completion. */
public record TextChunk(String text, String finishReason, String model, Map<String, Object> usage,
                        JsonNode toolCalls) {}
