package com.inferencekey;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Counts of native handles this JVM opened and freed, per type ({@code management client},
 * {@code data client}, {@code endpoint}, {@code stream}): a leak check for applications and
 * tests; every handle the library hands out goes through {@code Handle}. {@link #libraryLive()}
 * is the library's own count ({@code ik_live_handles}), which also sees a free that the binding
 * made but the library did not act on; the two agree when nothing leaked.
 */
public final class NativeHandles {
    private NativeHandles() {}

    private static final Map<String, AtomicLong> OPENED = new ConcurrentHashMap<>();
    private static final Map<String, AtomicLong> FREED = new ConcurrentHashMap<>();

    static void opened(String what) { OPENED.computeIfAbsent(what, k -> new AtomicLong()).incrementAndGet(); }

    static void freed(String what) { FREED.computeIfAbsent(what, k -> new AtomicLong()).incrementAndGet(); }

    /** Handles opened and not yet freed, all types together. */
    public static long live() {
        return opened() - freed();
    }

    /**
     * Handles the native library counts as handed out and not yet freed ({@code
     * ik_live_handles}), process-wide: includes handles opened by other code that uses the same
     * library in this process.
     */
    public static long libraryLive() {
        return Abi.liveHandles();
    }

    /** Handles opened and not yet freed, per type. */
    public static Map<String, Long> liveByType() {
        Map<String, Long> out = new TreeMap<>();
        OPENED.forEach((k, v) -> out.put(k, v.get() - FREED.getOrDefault(k, new AtomicLong()).get()));
        return out;
    }

    /** Handles freed so far, all types together. */
    public static long freed() {
        return FREED.values().stream().mapToLong(AtomicLong::get).sum();
    }

    /** Handles opened so far, all types together. */
    public static long opened() {
        return OPENED.values().stream().mapToLong(AtomicLong::get).sum();
    }
}
