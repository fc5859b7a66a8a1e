package com.inferencekey;

/** Thrown when the call was cancelled. */
public class CancelledException extends InferenceKeyException {
    private static final long serialVersionUID = 1L;

    CancelledException(ErrorInfo e) { super(e); }
}
