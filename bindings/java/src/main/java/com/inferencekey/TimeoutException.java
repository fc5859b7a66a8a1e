package com.inferencekey;

/** Thrown when a connect, read-idle or total deadline passed. */
public class TimeoutException extends InferenceKeyException {
    private static final long serialVersionUID = 1L;

    TimeoutException(ErrorInfo e) { super(e); }
}
