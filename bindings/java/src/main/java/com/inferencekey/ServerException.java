package com.inferencekey;

/** Thrown when 5xx (including {@code workload_not_ready}, with {@link #retryAfter()}), a workload that failed to start, or an error frame mid-stream. */
public class ServerException extends InferenceKeyException {
    private static final long serialVersionUID = 1L;

    ServerException(ErrorInfo e) { super(e); }
}
