package com.inferencekey;

import com.fasterxml.jackson.databind.JsonNode;

/** One step of a workload's start: {@code phase} ({@code ready}, {@code error}, ...) and what it means. */
public record ReadinessEvent(String phase, String message, Long elapsedMs, JsonNode step) {}
