package com.inferencekey;

import java.util.Arrays;
import java.util.function.Function;

/**
 * The SDK's error kinds as the C ABI names them ({@code ik_status_name}, the {@code kind} of
 * {@code ik_last_error_json}), each with its exception class. The list is checked against
 * the library's own by {@code ErrorKindTest}, so it cannot drift from the core.
 */
public enum ErrorKind {
    /** The binding or ABI was misused: a closed client, a NUL byte in a string. */
    INVALID_ARGUMENT("invalid_argument", InvalidArgumentException::new),
    /** Local misconfiguration found before any request. */
    CONFIGURATION("configuration", ConfigurationException::new),
    /** A field is invalid, locally or per the server (400/422). */
    VALIDATION("validation", ValidationException::new),
    /** {@code ensure} with {@link OnDrift#FAIL} found drift. */
    DRIFT("drift", DriftException::new),
    /** 401. */
    AUTH("auth", AuthException::new),
    /** 403: wrong plane, wrong project or insufficient scope. */
    PERMISSION_DENIED("permission_denied", PermissionDeniedException::new),
    /** 404. */
    NOT_FOUND("not_found", NotFoundException::new),
    /** 409. */
    CONFLICT("conflict", ConflictException::new),
    /** 429. */
    RATE_LIMITED("rate_limited", RateLimitException::new),
    /** 5xx, a workload that failed to start, an error frame mid-stream. */
    SERVER("server", ServerException::new),
    /** The connection could not be made or broke. */
    CONNECTION("connection", ConnectionException::new),
    /** A connect, read-idle or total deadline passed. */
    TIMEOUT("timeout", TimeoutException::new),
    /** The server answered something unusable (bad JSON, a truncated stream). */
    PROTOCOL("protocol", ProtocolException::new),
    /** Any other HTTP error status. */
    HTTP("http", HttpException::new),
    /** A bug in the SDK, caught at the ABI boundary. */
    INTERNAL("internal", InternalException::new);

    private final String wire;
    private final Function<ErrorInfo, InferenceKeyException> make;

    ErrorKind(String wire, Function<ErrorInfo, InferenceKeyException> make) {
        this.wire = wire;
        this.make = make;
    }

    /** The ABI's name for the kind ({@code not_found}). */
    public String wire() { return wire; }

    /** The kind named {@code name}, or {@link #INTERNAL} for a name this version does not know. */
    static ErrorKind of(String name) {
        return Arrays.stream(values()).filter(k -> k.wire.equals(name)).findFirst().orElse(INTERNAL);
    }

    InferenceKeyException exception(ErrorInfo info) { return make.apply(info); }
}
