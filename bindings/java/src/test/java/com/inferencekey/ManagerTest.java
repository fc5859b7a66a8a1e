package com.inferencekey;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;

/** Base of the tests that talk to the real Manager: starts it once, checks no handle leaked. */
abstract class ManagerTest {
    static TestManager manager;

    @BeforeAll
    static void startManager() { manager = TestManager.get(); }

    /**
     * Every test closes what it opened: no native handle outlives it, by the binding's count
     * and by the library's own ({@code ik_live_handles}).
     */
    @AfterEach
    void noLeakedHandles() {
        assertEquals(0, NativeHandles.live(), () -> "live native handles: " + NativeHandles.liveByType());
        assertEquals(0, NativeHandles.libraryLive(), "handles the library still counts as open (ik_live_handles)");
    }

    static WorkloadSpec.Builder chat(String slug) {
        return WorkloadSpec.builder().name("Java " + slug).slug(slug).model("m").backend(Backend.VLLM)
                .command("vllm serve m");
    }

    /** Ensures a chat workload once and waits until it is ready. */
    static void ensureReady(WorkloadSpec spec) {
        try (var mgmt = ManagementClient.fromEnv("acme")) {
            mgmt.ensure(spec);
            mgmt.waitUntilReady(spec.slug(), java.time.Duration.ofMinutes(2));
        }
    }
}
