package com.inferencekey;

import com.fasterxml.jackson.annotation.JsonValue;

/** How a workload is kept running; its parameters ride in {@code execution_policy_config}. */
public enum ExecutionPolicy {
    FIXED("fixed"),
    SCHEDULED("scheduled"),
    AUTOSCALING("autoscaling");

    private final String wire;

    ExecutionPolicy(String wire) { this.wire = wire; }

    /** The wire string. */
    @JsonValue
    public String wire() { return wire; }

    /** The constant whose wire string is {@code wire}. */
    public static ExecutionPolicy fromWire(String wire) {
        for (ExecutionPolicy v : values()) if (v.wire.equals(wire)) return v;
        throw new IllegalArgumentException("not a ExecutionPolicy: " + wire);
    }
}
