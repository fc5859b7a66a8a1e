package com.inferencekey;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/** Every OnDrift mode against the real Manager, and the lifecycle around them. */
class OnDriftTest extends ManagerTest {
    @Test
    void everyMode() {
        try (var mgmt = ManagementClient.fromEnv("acme")) {
            WorkloadSpec spec = chat("java-drift").build();
            EndpointRef dry = mgmt.ensure(spec, OnDrift.DRY_RUN);
            assertEquals(EnsureAction.WOULD_CREATE, dry.action());
            assertNull(dry.workloadId());
            assertThrows(NotFoundException.class, () -> mgmt.get("java-drift"), "a dry run writes nothing");

            EndpointRef created = mgmt.ensure(spec);
            assertEquals(EnsureAction.CREATED, created.action());
            assertEquals("java-drift", created.workloadSlug());
            assertEquals(EnsureAction.UNCHANGED, mgmt.ensure(spec).action());

            WorkloadSpec changed = spec.toBuilder().command("vllm serve m --max-model-len 4096").build();
            DriftException drift = assertThrows(DriftException.class, () -> mgmt.ensure(changed, OnDrift.FAIL));
            assertInstanceOf(ValidationException.class, drift, "a drift error is a validation error");
            assertEquals(ErrorKind.DRIFT, drift.kind());
            assertEquals(1, drift.plan().size(), drift.plan().toString());
            assertEquals("config.command", drift.plan().get(0).field());
            assertEquals("vllm serve m", drift.plan().get(0).live());
            assertEquals(changed.command(), drift.plan().get(0).desired());
            assertEquals("vllm serve m", mgmt.get("java-drift").config().get("command"), "FAIL writes nothing");

            EndpointRef wouldUpdate = mgmt.ensure(changed, OnDrift.DRY_RUN);
            assertEquals(EnsureAction.WOULD_UPDATE, wouldUpdate.action());
            assertEquals("config.command", wouldUpdate.plan().get(0).field());

            EndpointRef warned = mgmt.ensure(changed, OnDrift.WARN);
            assertEquals(EnsureAction.DRIFTED, warned.action());
            assertEquals(1, warned.plan().size());
            EndpointRef ignored = mgmt.ensure(changed, OnDrift.IGNORE);
            assertEquals(EnsureAction.DRIFTED, ignored.action());
            assertEquals("vllm serve m", mgmt.get("java-drift").config().get("command"), "WARN and IGNORE write nothing");

            EndpointRef updated = mgmt.ensure(changed, OnDrift.RECONCILE);
            assertEquals(EnsureAction.UPDATED, updated.action());
            assertEquals(changed.command(), updated.workload().config().get("command"));
            assertEquals(EnsureAction.UNCHANGED, mgmt.ensure(changed).action());
            assertEquals(created.workloadId(), updated.workloadId(), "reconciled in place, not recreated");

            // get tolerates the slug's spelling; list has it; readiness; delete.
            Workload got = mgmt.get(" Java_Drift ");
            assertEquals("java-drift", got.slug());
            assertEquals("m", got.modelName());
            assertEquals(created.workloadId(), got.id());
            assertTrue(mgmt.list().stream().anyMatch(w -> "java-drift".equals(w.slug())));
            assertEquals("ready", mgmt.waitUntilReady("java-drift", Duration.ofMinutes(2)).phase());
            try (var events = mgmt.readinessEvents("java-drift")) {
                var phases = events.stream().map(ReadinessEvent::phase).toList();
                assertEquals("ready", phases.get(phases.size() - 1), phases.toString());
            }
            mgmt.delete("java-drift");
            NotFoundException gone = assertThrows(NotFoundException.class, () -> mgmt.get("java-drift"));
            assertEquals(404, gone.status());
            assertThrows(NotFoundException.class, () -> mgmt.delete("java-drift"));
        }
    }
}
