package com.inferencekey;

import com.fasterxml.jackson.annotation.JsonAnySetter;
import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A workload as the server reports it. Fields the server did not send are null; keys this
 * SDK version does not know are kept in {@link #extra()}. {@code status} and
 * {@code statusMessage} are the local Manager's readiness phase and what it means.
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record Workload(
        String id,
        String projectId,
        String projectSlug,
        String name,
        String slug,
        String workloadSlug,
        String description,
        String taskType,
        String backend,
        String modelName,
        Map<String, Object> config,
        String workerId,
        String gpuResourceId,
        String executionPolicy,
        Map<String, Object> executionPolicyConfig,
        String createdAt,
        String updatedAt,
        String status,
        String statusMessage,
        @JsonAnySetter Map<String, Object> extra) {
    public Workload {
        extra = extra == null ? new LinkedHashMap<>() : extra;
    }
}
