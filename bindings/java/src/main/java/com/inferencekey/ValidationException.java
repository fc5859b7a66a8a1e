package com.inferencekey;

/** Thrown when a field is invalid, found locally or answered 400/422 by the server; {@link #field()} names it and {@link #problems()} lists every problem found locally. */
public class ValidationException extends InferenceKeyException {
    private static final long serialVersionUID = 1L;

    ValidationException(ErrorInfo e) { super(e); }
}
