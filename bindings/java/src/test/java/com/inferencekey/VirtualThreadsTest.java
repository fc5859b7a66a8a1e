package com.inferencekey;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The ABI keeps each error per OS thread; virtual threads move between carriers. 32 virtual
 * threads share one client and one endpoint and interleave failing and succeeding calls: every
 * failure must come back as its own error (its own slug, its own kind), and no success may
 * pick up another thread's error.
 */
class VirtualThreadsTest extends ManagerTest {
    static final String WORKLOAD = "java-vthreads";
    static final int THREADS = 32;
    static final int ROUNDS = 8;
    static final int YIELD_ROUNDS = 15;

    @BeforeAll
    static void workload() { ensureReady(chat(WORKLOAD).build()); }

    @Test
    void thirtyTwoVirtualThreadsShareOneClientWithoutMixingErrors() throws Exception {
        var problems = new ConcurrentLinkedQueue<String>();
        try (var mgmt = ManagementClient.fromEnv("acme");
             var data = DataClient.builder().project("acme").maxRetries(0).build();
             var ep = data.endpoint(WORKLOAD);
             var pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<Integer>> done = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                final int id = t;
                done.add(pool.submit(() -> {
                    int errors = 0;
                    for (int r = 0; r < ROUNDS; r++) {
                        String slug = "java-missing-" + id + "-" + r;
                        try {
                            mgmt.get(slug);
                            problems.add(slug + ": no error");
                        } catch (NotFoundException e) {
                            errors++;
                            if (!e.getMessage().contains(slug)) problems.add(slug + " got " + e.getMessage());
                        }
                        // A local validation error whose field names this thread and round.
                        try {
                            ep.generateText(TextRequest.builder().prompt("x").extra(java.util.Map.of()).stop(1).build());
                            problems.add(slug + ": bad stop accepted");
                        } catch (ValidationException e) {
                            errors++;
                            if (!"stop".equals(e.field())) problems.add(slug + " field " + e.field());
                        }
                        // A server error (429) from the engine, with its own status.
                        try {
                            ep.generateText(TextRequest.of("[[ik:status:429]] " + slug));
                            problems.add(slug + ": 429 not raised");
                        } catch (RateLimitException e) {
                            errors++;
                            if (e.status() != 429) problems.add(slug + " status " + e.status());
                        }
                        // Successes in between must not see anyone's error.
                        String text = ep.generateText(TextRequest.builder().prompt(slug).maxTokens(64).build()).text();
                        if (!text.contains(slug)) problems.add(slug + " answer " + text);
                        if (mgmt.list().isEmpty()) problems.add(slug + ": empty list");
                    }
                    return errors;
                }));
            }
            int errors = 0;
            for (Future<Integer> f : done) errors += f.get();
            assertTrue(problems.isEmpty(), () -> problems.size() + " mixed-up or lost errors, e.g. " + problems.peek());
            assertEquals(THREADS * ROUNDS * 3, errors);
        }
    }

    /**
     * The mechanism itself: a yield point is forced between the failing call and the read of
     * its error (Thread.yield inside the call). On a virtual thread that would let another
     * virtual thread run on the same carrier and overwrite the error in between; the binding
     * runs the pair on a platform thread, so each thread must still read its own error.
     */
    @Test
    void aYieldBetweenCallAndErrorReadCannotMixErrors() throws Exception {
        MemorySegment client = Abi.run((l, a, out) ->
                (int) l.mgmtNew.invokeExact(a.allocateFrom("{\"project\": \"acme\"}"), out), (l, p) -> p);
        var problems = new ConcurrentLinkedQueue<String>();
        try (var pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                final int id = t;
                done.add(pool.submit(() -> {
                    for (int r = 0; r < YIELD_ROUNDS; r++) {
                        String slug = "java-yield-" + id + "-" + r;
                        try {
                            Abi.runString((l, a, out) -> {
                                int st = (int) l.get.invokeExact(client, a.allocateFrom(slug), MemorySegment.NULL, out);
                                Thread.yield();
                                return st;
                            });
                            problems.add(slug + ": no error");
                        } catch (NotFoundException e) {
                            if (!e.getMessage().contains(slug)) problems.add(slug + " got " + e.getMessage());
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : done) f.get();
        } finally {
            Abi.run((l, a, out) -> {
                l.mgmtFree.invokeExact(client);
                return 0;
            }, (l, p) -> null);
        }
        assertTrue(problems.isEmpty(), () -> problems.size() + " mixed-up errors, e.g. " + problems.peek());
    }
}
