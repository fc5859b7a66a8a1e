package com.inferencekey;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Every handle is freed exactly once: by close (idempotent) or, if forgotten, by the Cleaner. */
class HandlesTest extends ManagerTest {
    @Test
    void closeFreesOnceEvenWhenCalledTwice() {
        long opened = NativeHandles.opened(), freed = NativeHandles.freed();
        var data = DataClient.fromEnv("acme");
        var ep = data.endpoint("anything");
        var mgmt = ManagementClient.fromEnv("acme");
        assertEquals(3, NativeHandles.opened() - opened);
        assertEquals(3, NativeHandles.live());
        for (int i = 0; i < 3; i++) {
            ep.close();
            data.close();
            mgmt.close();
        }
        assertEquals(3, NativeHandles.freed() - freed);
        assertEquals(0, NativeHandles.live());
        assertThrows(InvalidArgumentException.class, ep::baseUrl);
    }

    @Test
    void anEndpointOutlivesItsClient() {
        Endpoint ep;
        try (var data = DataClient.fromEnv("acme")) {
            ep = data.endpoint("java-outlives");
        }
        try (ep) {
            assertTrue(ep.baseUrl().endsWith("/endpoint/acme/java-outlives/v1"), ep.baseUrl());
        }
    }

    private static void forget(int n) {
        List<Object> garbage = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            var data = DataClient.fromEnv("acme");
            garbage.add(data.endpoint("w" + i));
            garbage.add(data);
        }
        garbage.clear();
    }

    @Test
    void forgottenHandlesAreFreedByTheCleaner() throws InterruptedException {
        long freed = NativeHandles.freed();
        forget(10);
        assertEquals(20, NativeHandles.live());
        // The Cleaner runs after a collection; collect until it has (bounded).
        for (int i = 0; i < 200 && NativeHandles.live() > 0; i++) {
            System.gc();
            Thread.sleep(20);
        }
        assertEquals(0, NativeHandles.live(), NativeHandles.liveByType().toString());
        assertEquals(20, NativeHandles.freed() - freed);
    }
}
