package com.inferencekey;

import com.fasterxml.jackson.annotation.JsonValue;

/** What {@code ensure} did (or, under {@link OnDrift#DRY_RUN}, would do). */
public enum EnsureAction {
    CREATED("created"),
    UPDATED("updated"),
    UNCHANGED("unchanged"),
    DRIFTED("drifted"),
    WOULD_CREATE("would_create"),
    WOULD_UPDATE("would_update");

    private final String wire;

    EnsureAction(String wire) { this.wire = wire; }

    /** The wire string. */
    @JsonValue
    public String wire() { return wire; }

    /** The constant whose wire string is {@code wire}. */
    public static EnsureAction fromWire(String wire) {
        for (EnsureAction v : values()) if (v.wire.equals(wire)) return v;
        throw new IllegalArgumentException("not a EnsureAction: " + wire);
    }
}
