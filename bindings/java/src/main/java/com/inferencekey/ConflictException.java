package com.inferencekey;

/** Thrown when 409: a slug conflict, or an idempotency key still in use. */
public class ConflictException extends InferenceKeyException {
    private static final long serialVersionUID = 1L;

    ConflictException(ErrorInfo e) { super(e); }
}
