package com.inferencekey;

/** Thrown when the connection could not be made or broke. */
public class ConnectionException extends InferenceKeyException {
    private static final long serialVersionUID = 1L;

    ConnectionException(ErrorInfo e) { super(e); }
}
