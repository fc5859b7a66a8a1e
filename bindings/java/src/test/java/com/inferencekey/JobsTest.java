package com.inferencekey;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Async jobs through the real Manager: submit, status, wait. */
class JobsTest extends ManagerTest {
    static final String WORKLOAD = "java-jobs";

    @BeforeAll
    static void workload() { ensureReady(chat(WORKLOAD).build()); }

    @Test
    void submitStatusAndWait() {
        try (var data = DataClient.fromEnv("acme"); var ep = data.endpoint(WORKLOAD)) {
            String id = ep.submitJob(JobRequest.json("chat",
                            Map.of("messages", List.of(TextRequest.message("user", "hi from a job"))))
                    .withContext(Map.of("ticket", 7)));
            assertFalse(id.isBlank());
            JobStatus st = ep.jobStatus(id);
            assertEquals(id, st.jobId());
            assertTrue(List.of("queued", "running", "succeeded").contains(st.status()), st.status());
            JobStatus done = ep.waitJob(id, Duration.ofMinutes(1));
            assertTrue(done.done());
            assertEquals("succeeded", done.status(), String.valueOf(done.error()));
            assertTrue(done.result().toString().contains("hi from a job"), done.result().toString());
        }
    }

    @Test
    void aFailedJobIsAResultNotAnException() {
        try (var data = DataClient.fromEnv("acme"); var ep = data.endpoint(WORKLOAD)) {
            String id = ep.submitJob(JobRequest.json("chat",
                    Map.of("messages", List.of(TextRequest.message("user", "[[ik:status:500]] fail")))));
            JobStatus done = ep.waitJob(id, Duration.ofMinutes(1));
            assertEquals("failed", done.status());
            assertTrue(done.error() != null && !done.error().isNull(), done.toString());
        }
    }
}
