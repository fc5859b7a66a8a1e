package com.inferencekey;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.ServerSocket;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * Each exception type, made to happen for real (the reference engine's test hooks make the
 * server misbehave on purpose), with its status, code, field, request id and retry-after.
 */
class ErrorsTest extends ManagerTest {
    static final String WORKLOAD = "java-errors";

    @BeforeAll
    static void workload() { ensureReady(chat(WORKLOAD).build()); }

    /** Calls {@code prompt} on the workload with retries off, expecting {@code type}. */
    static <T extends InferenceKeyException> T chatFails(Class<T> type, String prompt, Duration timeout) {
        try (var data = DataClient.builder().project("acme").maxRetries(0).build();
             var ep = data.endpoint(WORKLOAD)) {
            var req = TextRequest.builder().prompt(prompt);
            if (timeout != null) req.timeout(timeout);
            T e = assertThrows(type, () -> ep.generateText(req.build()));
            assertSame(type, e.getClass(), e.toString());
            return e;
        }
    }

    @Test
    void configuration() {
        var e = assertThrows(ConfigurationException.class,
                () -> ManagementClient.builder().baseUrl("ftp://nowhere").build());
        assertEquals("base_url", e.field());
        assertEquals(ErrorKind.CONFIGURATION, e.kind());
        assertEquals(0, e.status());
        assertTrue(e.getMessage().startsWith("configuration error: "), e.getMessage());

        try (var mgmt = ManagementClient.fromEnv("acme")) {
            var secret = chat("java-secret").description("deploy with " + manager.sdkToken).build();
            var s = assertThrows(ConfigurationException.class, () -> mgmt.ensure(secret));
            assertTrue(s.getMessage().contains("secrets must never go in specs"), s.getMessage());
            assertFalse(s.getMessage().contains(manager.sdkToken), "the token leaked into the message");
        }
        var badOption = assertThrows(ConfigurationException.class,
                () -> ManagementClient.builder().maxRetries(1000).build());
        assertEquals("max_retries", badOption.field());
    }

    @Test
    void validation() {
        try (var mgmt = ManagementClient.fromEnv("acme")) {
            var bad = WorkloadSpec.builder().slug("java-bad").model("m")
                    .executionPolicy(ExecutionPolicy.FIXED).executionPolicyConfig(Map.of("replicas", 0)).build();
            var e = assertThrows(ValidationException.class, () -> mgmt.ensure(bad));
            assertSame(ValidationException.class, e.getClass());
            assertEquals("name", e.field());
            assertTrue(e.problems().size() >= 2, e.problems().toString());
            assertTrue(e.problems().stream().anyMatch(p -> p.field().startsWith("execution_policy_config")),
                    e.problems().toString());
            assertTrue(e.getMessage().startsWith("validation error: "), e.getMessage());
        }
        try (var data = DataClient.fromEnv("acme"); var ep = data.endpoint(WORKLOAD)) {
            var e = assertThrows(ValidationException.class, () -> ep.generateText(TextRequest.builder().build()));
            assertEquals("prompt", e.field());
            var emb = assertThrows(ValidationException.class, () -> ep.embed(java.util.List.of()));
            assertNotNull(emb.getMessage());
            var job = assertThrows(ValidationException.class, () -> ep.submitJob(JobRequest.json("teleport", Map.of())));
            assertEquals("kind", job.field());
        }
    }

    @Test
    void notFound() {
        try (var mgmt = ManagementClient.fromEnv("acme")) {
            var e = assertThrows(NotFoundException.class, () -> mgmt.get("java-no-such-workload"));
            assertEquals(404, e.status());
            assertEquals("not_found", e.code());
            assertTrue(e.getMessage().startsWith("not found: "), e.getMessage());
        }
        try (var data = DataClient.fromEnv("acme"); var ep = data.endpoint(WORKLOAD)) {
            assertEquals(404, assertThrows(NotFoundException.class, () -> ep.jobStatus("no-such-job")).status());
        }
    }

    @Test
    void serverSideStatuses() {
        var conflict = chatFails(ConflictException.class, "[[ik:status:409]] hi", null);
        assertEquals(409, conflict.status());

        var limited = chatFails(RateLimitException.class, "[[ik:status:429]] hi", null);
        assertEquals(429, limited.status());
        assertEquals(Duration.ofSeconds(1), limited.retryAfter().orElseThrow());

        var server = chatFails(ServerException.class, "[[ik:status:500]] hi", null);
        assertEquals(500, server.status());
        assertNotNull(server.requestId());

        var teapot = chatFails(HttpException.class, "[[ik:status:418]] hi", null);
        assertEquals(418, teapot.status());
        assertEquals(ErrorKind.HTTP, teapot.kind());
    }

    @Test
    void protocolAndTimeout() {
        var cut = chatFails(ProtocolException.class, "[[ik:truncate]] hi", null);
        assertEquals(ErrorKind.PROTOCOL, cut.kind());
        var slow = chatFails(TimeoutException.class, "[[ik:slow:5000]] hi", Duration.ofMillis(300));
        assertEquals(ErrorKind.TIMEOUT, slow.kind());
        assertEquals(0, slow.status());
    }

    @Test
    void connection() throws Exception {
        int port;
        try (var s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();   // closed again at once: nothing listens there
        }
        try (var mgmt = ManagementClient.builder().baseUrl("http://127.0.0.1:" + port).project("acme")
                .maxRetries(0).build()) {
            var e = assertThrows(ConnectionException.class, () -> mgmt.list());
            assertSame(ConnectionException.class, e.getClass());
            assertEquals(0, e.status());
            assertNull(e.requestId());
        }
    }

    @Test
    void invalidArgument() {
        var mgmt = ManagementClient.fromEnv("acme");
        var nul = assertThrows(InvalidArgumentException.class, () -> mgmt.get("nul\0byte"));
        assertEquals("slug", nul.field());
        mgmt.close();
        var closed = assertThrows(InvalidArgumentException.class, mgmt::list);
        assertEquals("closed", closed.code());
        mgmt.close(); // twice is fine
    }

    /** Tokens on the wrong plane fail locally, both ways, and never appear in the message. */
    @Test
    void wrongTokenBothWays() {
        var live = assertThrows(PermissionDeniedException.class,
                () -> ManagementClient.builder().project("acme").sdkToken(manager.apiKey).build());
        assertEquals("wrong_credential_type", live.code());
        assertEquals("sdk_token", live.field());
        assertTrue(live.getMessage().startsWith("permission denied [wrong_credential_type]: "), live.getMessage());
        assertFalse(live.getMessage().contains(manager.apiKey));

        try (var data = DataClient.fromEnv("acme")) {
            var sdk = assertThrows(PermissionDeniedException.class, () -> data.endpoint(WORKLOAD, manager.sdkToken));
            assertEquals("wrong_credential_type", sdk.code());
            assertFalse(sdk.getMessage().contains(manager.sdkToken));
        }
    }

    /** Unknown tokens are 401; a token of another project or workload is 403 with the rule's code. */
    @Test
    void authAndScopes() throws Exception {
        try (var data = DataClient.fromEnv("acme"); var ep = data.endpoint(WORKLOAD, "ik_live_abcdefgh_notissued")) {
            var e = assertThrows(AuthException.class, () -> ep.generateText(TextRequest.of("hi")));
            assertEquals(401, e.status());
            assertFalse(e.getMessage().contains("notissued"), e.getMessage());
            assertTrue(e.getMessage().startsWith("authentication failed: "), e.getMessage());
            // The error carries the response: its request id and headers.
            assertNotNull(e.requestId());
            assertEquals(e.requestId(), e.headers().get("x-request-id"));
        }
        try (var mgmt = ManagementClient.builder().project("acme").sdkToken("ik_sdk_abcdefgh_notissued").build()) {
            assertEquals(401, assertThrows(AuthException.class, mgmt::list).status());
        }
        String otherToken = manager.sdkTokenFor("java-other");
        try (var mgmt = ManagementClient.builder().project("acme").sdkToken(otherToken).build()) {
            var e = assertThrows(PermissionDeniedException.class, mgmt::list);
            assertEquals(403, e.status());
            assertEquals("project_scope_mismatch", e.code());
        }
        String narrow = manager.keyFor("java-somewhere-else");
        try (var data = DataClient.fromEnv("acme"); var ep = data.endpoint(WORKLOAD, narrow)) {
            var e = assertThrows(PermissionDeniedException.class, () -> ep.generateText(TextRequest.of("hi")));
            assertEquals("scope_insufficient", e.code());
        }
    }

    /** Every exception is an InferenceKeyException, so one catch takes them all. */
    @Test
    void oneCatchTakesThemAll() {
        Executable call = () -> {
            try (var mgmt = ManagementClient.fromEnv("acme")) {
                mgmt.get("java-no-such-workload");
            }
        };
        InferenceKeyException e = assertThrows(InferenceKeyException.class, call);
        assertEquals(ErrorKind.NOT_FOUND, e.kind());
    }
}
