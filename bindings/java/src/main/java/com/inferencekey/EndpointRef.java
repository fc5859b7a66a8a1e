package com.inferencekey;

import java.util.List;

/**
 * What {@code ensure} returns: which workload to talk to ({@link #projectSlug()},
 * {@link #workloadSlug()}), what was done ({@link #action()}) and the changes found
 * ({@link #plan()}). {@link #workload()} is the server's workload after the call, or null for
 * a dry run of a create.
 */
public record EndpointRef(
        String projectSlug,
        String workloadSlug,
        String workloadId,
        EnsureAction action,
        List<Change> plan,
        Workload workload) {
    public EndpointRef {
        plan = plan == null ? List.of() : List.copyOf(plan);
    }
}
