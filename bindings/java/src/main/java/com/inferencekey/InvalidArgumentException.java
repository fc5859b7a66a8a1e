package com.inferencekey;

/** Thrown when the binding was misused: a closed client, endpoint or stream, or a string with a NUL byte. */
public class InvalidArgumentException extends InferenceKeyException {
    private static final long serialVersionUID = 1L;

    InvalidArgumentException(ErrorInfo e) { super(e); }
}
