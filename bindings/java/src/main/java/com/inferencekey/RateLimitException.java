package com.inferencekey;

/** Thrown when 429: too many requests; {@link #retryAfter()} says how long to wait. */
public class RateLimitException extends InferenceKeyException {
    private static final long serialVersionUID = 1L;

    RateLimitException(ErrorInfo e) { super(e); }
}
