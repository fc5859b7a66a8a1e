package com.inferencekey;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Verifying signed job-result deliveries (docs/contract.md §6): the platform sends {@code
 * X-InferenceKey-Signature: t=<unix seconds>,v1=<hex>} with {@code v1 = HMAC-SHA256(secret,
 * "<t>.<raw body>")}. Verify the <em>raw</em> request body, before parsing it, and dedupe on
 * {@code job_id}: delivery is at-least-once.
 *
 * <pre>{@code
 * Webhooks.verify(requestBodyBytes, request.getHeader(Webhooks.SIGNATURE_HEADER), secret);
 * }</pre>
 *
 * <p>The check is the core's ({@code ik_webhook_verify}), the same as in Python, Node and Go:
 * constant-time comparison, signature checked before the timestamp.
 */
public final class Webhooks {
    private Webhooks() {}

    /** The header carrying the signature. */
    public static final String SIGNATURE_HEADER = "X-InferenceKey-Signature";

    /** How far the timestamp may be from the receiver's clock by default. */
    public static final Duration DEFAULT_TOLERANCE = Duration.ofSeconds(300);

    /**
     * Returns if {@code signatureHeader} signs {@code body} with {@code secret} and is at most
     * {@link #DEFAULT_TOLERANCE} old. Throws {@link ValidationException} on field {@link
     * #SIGNATURE_HEADER} with {@code code()} {@code invalid_signature} (wrong secret or altered
     * body), {@code signature_expired} (a replay or a skewed clock) or {@code
     * malformed_signature}; {@link ConfigurationException} for an empty secret. The secret
     * never appears in an exception.
     */
    public static void verify(byte[] body, String signatureHeader, byte[] secret) {
        verify(body, signatureHeader, secret, null, null);
    }

    /** {@link #verify(byte[], String, byte[])} for a body and secret given as text (UTF-8). */
    public static void verify(String body, String signatureHeader, String secret) {
        verify(utf8(body, "body"), signatureHeader, utf8(secret, "secret"), null, null);
    }

    /** With another tolerance ({@code Duration.ZERO}: the exact second). */
    public static void verify(byte[] body, String signatureHeader, byte[] secret, Duration tolerance) {
        verify(body, signatureHeader, secret, tolerance, null);
    }

    /**
     * With another tolerance and the receiver's clock: {@code null} for either means the
     * default (300 s; the system clock). {@code now} is for tests.
     */
    public static void verify(byte[] body, String signatureHeader, byte[] secret, Duration tolerance, Instant now) {
        byte[] b = bytes(body, "body");
        byte[] k = bytes(secret, "secret");
        String header = Abi.checkedArg(signatureHeader, "signature_header");
        String opts = Abi.toJson(options(tolerance, now), "options");
        Abi.runVoid((l, a, out) -> {
            MemorySegment key = copy(a, k);
            try {
                return (int) l.webhookVerify.invokeExact(copy(a, b), (long) b.length, a.allocateFrom(header),
                        key, (long) k.length, a.allocateFrom(opts));
            } finally {
                key.fill((byte) 0);
            }
        });
    }

    /** The ABI's options object (the core's {@code WebhookSettings}); null values are left out. */
    static Map<String, Object> options(Duration tolerance, Instant now) {
        Map<String, Object> options = new LinkedHashMap<>();
        Options.put(options, "tolerance", Options.seconds(tolerance));
        Options.put(options, "now", now == null ? null : now.getEpochSecond());
        return options;
    }

    /** The header value the platform sends for {@code body} at {@code t} (for senders and tests). */
    public static String sign(byte[] body, byte[] secret, Instant t) {
        byte[] b = bytes(body, "body");
        byte[] k = bytes(secret, "secret");
        if (t == null || t.getEpochSecond() < 0) {
            throw ErrorInfo.local(ErrorKind.INVALID_ARGUMENT, "invalid_argument", "t",
                    "invalid argument: t must be a time from 1970 on, not " + t).toException();
        }
        long secs = t.getEpochSecond();
        return Abi.runString((l, a, out) -> {
            MemorySegment key = copy(a, k);
            try {
                return (int) l.webhookSign.invokeExact(copy(a, b), (long) b.length, key, (long) k.length, secs, out);
            } finally {
                key.fill((byte) 0);
            }
        });
    }

    /** {@link #sign(byte[], byte[], Instant)} for a body and secret given as text (UTF-8). */
    public static String sign(String body, String secret, Instant t) {
        return sign(utf8(body, "body"), utf8(secret, "secret"), t);
    }

    /** The bytes in native memory; NULL for none (the ABI allows NULL with length 0). */
    private static MemorySegment copy(Arena a, byte[] bytes) {
        return bytes.length == 0 ? MemorySegment.NULL : a.allocateFrom(JAVA_BYTE, bytes);
    }

    private static byte[] bytes(byte[] v, String param) {
        if (v == null) throw nullArg(param);
        return v;
    }

    private static byte[] utf8(String v, String param) {
        if (v == null) throw nullArg(param);
        return v.getBytes(StandardCharsets.UTF_8);
    }

    private static InferenceKeyException nullArg(String param) {
        return ErrorInfo.local(ErrorKind.INVALID_ARGUMENT, "invalid_argument", param,
                "invalid argument: " + param + " must not be null").toException();
    }
}
