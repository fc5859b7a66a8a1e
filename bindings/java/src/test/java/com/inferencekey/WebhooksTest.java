package com.inferencekey;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.Test;

/**
 * Webhook verification through {@code ik_webhook_verify}: signatures made independently here
 * (javax.crypto, as docs/contract.md §6 describes them) pass; a tampered body, a wrong secret
 * and a stale timestamp fail with a {@link ValidationException} naming what is wrong, and the
 * secret is in no exception text. No Manager needed.
 */
class WebhooksTest {
    static final String SECRET = "whsec_java_test_secret";
    static final byte[] KEY = SECRET.getBytes(StandardCharsets.UTF_8);
    static final String BODY = "{\"event\":\"job.completed\",\"job_id\":\"job_java\",\"data\":{\"status\":\"succeeded\"}}";
    static final Instant T = Instant.ofEpochSecond(1_700_000_000L);

    /** The header the platform would send, computed without the SDK. */
    static String independentSignature(byte[] body, byte[] secret, Instant t) throws Exception {
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(secret, "HmacSHA256"));
        mac.update((t.getEpochSecond() + ".").getBytes(StandardCharsets.UTF_8));
        return "t=" + t.getEpochSecond() + ",v1=" + HexFormat.of().formatHex(mac.doFinal(body));
    }

    static byte[] utf8(String s) { return s.getBytes(StandardCharsets.UTF_8); }

    /** A rejected delivery: validation on the signature header, with {@code code}, secret-free. */
    static ValidationException rejected(String code, org.junit.jupiter.api.function.Executable call) {
        var e = assertThrows(ValidationException.class, call);
        assertEquals(ValidationException.class, e.getClass());
        assertEquals(code, e.code(), e.getMessage());
        assertEquals(Webhooks.SIGNATURE_HEADER, e.field());
        assertEquals(ErrorKind.VALIDATION, e.kind());
        assertFalse(e.toString().contains(SECRET), "the secret leaked: " + e);
        assertFalse(e.getMessage().contains(SECRET), "the secret leaked: " + e.getMessage());
        return e;
    }

    @Test
    void aValidSignaturePasses() throws Exception {
        String header = independentSignature(utf8(BODY), KEY, T);
        assertDoesNotThrow(() -> Webhooks.verify(utf8(BODY), header, KEY, null, T.plusSeconds(10)));
        assertEquals(header, Webhooks.sign(BODY, SECRET, T));
        // Against the system clock, with the String overload.
        String fresh = independentSignature(utf8(BODY), KEY, Instant.now());
        assertDoesNotThrow(() -> Webhooks.verify(BODY, fresh, SECRET));
        // Any byte is part of what is signed; an empty body too.
        for (byte[] body : new byte[][] {{0, (byte) 0xff, 'x', 0}, {}}) {
            String h = independentSignature(body, KEY, T);
            assertDoesNotThrow(() -> Webhooks.verify(body, h, KEY, null, T));
        }
    }

    @Test
    void tamperedBodyAndWrongSecretAreInvalidSignatures() throws Exception {
        String header = independentSignature(utf8(BODY), KEY, T);
        byte[] tampered = utf8(BODY.replace("succeeded", "failed"));
        rejected("invalid_signature", () -> Webhooks.verify(tampered, header, KEY, null, T));
        rejected("invalid_signature", () -> Webhooks.verify(utf8(BODY), header, utf8("whsec_wrong"), null, T));
        // The timestamp is signed too: moving it breaks the signature, not the clock check.
        String moved = header.replace("t=1700000000", "t=1700000001");
        rejected("invalid_signature", () -> Webhooks.verify(utf8(BODY), moved, KEY, null, T));
    }

    @Test
    void aStaleTimestampIsExpired() throws Exception {
        String header = independentSignature(utf8(BODY), KEY, T);
        var old = rejected("signature_expired", () -> Webhooks.verify(utf8(BODY), header, KEY, null, T.plusSeconds(301)));
        assertTrue(old.getMessage().contains("301 s old"), old.getMessage());
        var future = rejected("signature_expired", () -> Webhooks.verify(utf8(BODY), header, KEY, null, T.minusSeconds(301)));
        assertTrue(future.getMessage().contains("in the future"), future.getMessage());
        assertDoesNotThrow(() -> Webhooks.verify(utf8(BODY), header, KEY, Duration.ofMinutes(10), T.plusSeconds(301)));
        rejected("signature_expired", () -> Webhooks.verify(utf8(BODY), header, KEY, Duration.ZERO, T.plusSeconds(1)));
        // With the system clock, a 2023 delivery is long stale.
        rejected("signature_expired", () -> Webhooks.verify(utf8(BODY), header, KEY));
    }

    @Test
    void malformedHeadersSayWhichPart() {
        var e = rejected("malformed_signature", () -> Webhooks.verify(BODY, "v1=" + "ab".repeat(32), SECRET));
        assertTrue(e.getMessage().contains("`t` is missing"), e.getMessage());
        e = rejected("malformed_signature", () -> Webhooks.verify(BODY, "t=1,v1=xyz", SECRET));
        assertTrue(e.getMessage().contains("v1 entry 1 is not 64 hex"), e.getMessage());
    }

    @Test
    void misuseIsTypedNotACrash() throws Exception {
        String header = independentSignature(utf8(BODY), KEY, T);
        var empty = assertThrows(ConfigurationException.class, () -> Webhooks.verify(utf8(BODY), header, new byte[0], null, T));
        assertTrue(empty.getMessage().contains("secret is empty"), empty.getMessage());
        var tol = assertThrows(ConfigurationException.class,
                () -> Webhooks.verify(utf8(BODY), header, KEY, Duration.ofSeconds(-1), T));
        assertEquals("tolerance", tol.field());
        assertEquals("signature_header",
                assertThrows(InvalidArgumentException.class, () -> Webhooks.verify(utf8(BODY), null, KEY)).field());
        assertEquals("body", assertThrows(InvalidArgumentException.class, () -> Webhooks.verify(null, header, KEY)).field());
        assertEquals("secret", assertThrows(InvalidArgumentException.class, () -> Webhooks.verify(BODY, header, null)).field());
        assertEquals("t", assertThrows(InvalidArgumentException.class, () -> Webhooks.sign(BODY, SECRET, null)).field());
    }

    /** From virtual threads the error read stays paired with its call: each sees its own code. */
    @Test
    void fromVirtualThreadsEachSeesItsOwnError() throws Exception {
        String header = independentSignature(utf8(BODY), KEY, T);
        List<Future<String>> results = new ArrayList<>();
        try (var pool = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int i = 0; i < 32; i++) {
                boolean stale = i % 2 == 0;
                results.add(pool.submit(() -> {
                    try {
                        Webhooks.verify(utf8(BODY), header, stale ? KEY : utf8("whsec_wrong"), null,
                                stale ? T.plusSeconds(900) : T);
                        return "passed";
                    } catch (ValidationException e) {
                        return e.code();
                    }
                }));
            }
        }
        for (int i = 0; i < results.size(); i++) {
            assertEquals(i % 2 == 0 ? "signature_expired" : "invalid_signature", results.get(i).get(), "call " + i);
        }
    }
}
