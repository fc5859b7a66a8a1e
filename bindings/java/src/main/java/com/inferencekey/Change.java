package com.inferencekey;

/**
 * One difference between the spec and the live workload: {@code field} (a path such as
 * {@code config.command}), its {@code live} value and the {@code desired} one (JSON values:
 * String, Number, Boolean, Map, List or null).
 */
public record Change(String field, Object live, Object desired) {}
