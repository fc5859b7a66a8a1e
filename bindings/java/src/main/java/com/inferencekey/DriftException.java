package com.inferencekey;

import java.util.List;

/**
 * {@code ensure(spec, OnDrift.FAIL)} found drift; nothing was written. A subclass of
 * {@link ValidationException}, as {@code DriftError} is in Python. {@link #plan()} lists what
 * would have changed.
 */
public class DriftException extends ValidationException {
    private static final long serialVersionUID = 1L;

    private final transient List<Change> plan;

    DriftException(ErrorInfo e) {
        super(e);
        this.plan = e.plan() == null ? List.of() : List.copyOf(e.plan());
    }

    /** The changes {@code ensure} would have made: {@code (field, live, desired)}. */
    public List<Change> plan() { return plan; }
}
