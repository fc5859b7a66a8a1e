package com.inferencekey;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Map;

/**
 * A chat completion: {@code text} is the first choice's content (empty for a pure tool call,
 * then {@code message} holds the whole message), {@code model} the model that answered, and
 * {@code raw} the server's whole answer; {@code requestId} and {@code headers} (by lower-case
 * name) are the response's.
 */
public record TextResult(String text, String model, String finishReason, Map<String, Object> usage,
                         JsonNode message, JsonNode raw, String requestId, Map<String, String> headers) {}
