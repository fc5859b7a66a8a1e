package com.inferencekey;

/** Thrown when a bug in the SDK, caught at the ABI boundary before it could unwind into Java; please report it. */
public class InternalException extends InferenceKeyException {
    private static final long serialVersionUID = 1L;

    InternalException(ErrorInfo e) { super(e); }
}
