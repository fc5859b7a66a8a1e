package com.inferencekey;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;

/**
 * Runs after every other test class (see junit-platform.properties): the whole suite, the
 * classes without a Manager included, left no native handle open, by the library's count
 * ({@code ik_live_handles}) and the binding's. No collection is forced first, so a handle only
 * a {@code Cleaner} would have freed counts as leaked.
 */
@Order(Integer.MAX_VALUE)
class NoLeakedHandlesTest {
    @Test
    void theSuiteLeftNoHandleOpen() {
        assumeTrue(NativeHandles.opened() > 0, "run alone: no other test opened a handle to check");
        assertEquals(0, NativeHandles.libraryLive(), "handles the library still counts as open (ik_live_handles)");
        assertEquals(0, NativeHandles.live(), () -> "live native handles: " + NativeHandles.liveByType());
    }
}
