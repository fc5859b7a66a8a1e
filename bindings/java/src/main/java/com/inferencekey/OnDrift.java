package com.inferencekey;

import com.fasterxml.jackson.annotation.JsonValue;

/** What {@code ensure} does when the live workload differs from the spec; {@link #RECONCILE} is the default. */
public enum OnDrift {
    RECONCILE("reconcile"),
    FAIL("fail"),
    DRY_RUN("dry_run"),
    WARN("warn"),
    IGNORE("ignore");

    private final String wire;

    OnDrift(String wire) { this.wire = wire; }

    /** The wire string. */
    @JsonValue
    public String wire() { return wire; }

    /** The constant whose wire string is {@code wire}. */
    public static OnDrift fromWire(String wire) {
        for (OnDrift v : values()) if (v.wire.equals(wire)) return v;
        throw new IllegalArgumentException("not a OnDrift: " + wire);
    }
}
