package com.inferencekey;

import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * Every error the SDK throws (unchecked), mirroring the Python {@code InferenceKeyError}
 * hierarchy: catch this to catch them all, or a subclass to branch on the kind. The message is
 * the core's one-line text with its documented prefix ({@code not found: …},
 * {@code permission denied [wrong_credential_type]: …}); it never contains a token.
 */
public class InferenceKeyException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** One invalid field found by validation. */
    public record Problem(String field, String message) {}

    private final ErrorKind kind;
    private final int status;
    private final String code;
    private final String field;
    private final transient List<Problem> problems;
    private final String requestId;
    private final transient java.util.Map<String, String> headers;
    private final Duration retryAfter;

    InferenceKeyException(ErrorInfo e) {
        super(e.display());
        this.kind = e.kind();
        this.status = e.httpStatus() == null ? 0 : e.httpStatus();
        this.code = e.code();
        this.field = e.field();
        this.problems = e.problems() == null ? List.of() : List.copyOf(e.problems());
        this.requestId = e.requestId();
        this.headers = e.headers() == null ? java.util.Map.of() : java.util.Map.copyOf(e.headers());
        this.retryAfter = e.retryAfter() == null ? null : Duration.ofNanos((long) (e.retryAfter() * 1e9));
    }

    /** What went wrong, at the granularity callers branch on. */
    public ErrorKind kind() { return kind; }

    /** The HTTP status, or 0 when the error was found locally. */
    public int status() { return status; }

    /** The machine code ({@code validation_failed}, {@code wrong_credential_type}, …), or null. */
    public String code() { return code; }

    /** The first offending field as a JSON path ({@code execution_policy_config.replicas}), or null. */
    public String field() { return field; }

    /** Every problem local validation found (empty when none). */
    public List<Problem> problems() { return problems; }

    /** The server's request id, to quote in a support ticket, or null. */
    public String requestId() { return requestId; }

    /** The error response's headers by lower-case name (empty when no response arrived). */
    public java.util.Map<String, String> headers() { return headers; }

    /** How long the server asked to wait (429, 503), when it said. */
    public Optional<Duration> retryAfter() { return Optional.ofNullable(retryAfter); }
}
