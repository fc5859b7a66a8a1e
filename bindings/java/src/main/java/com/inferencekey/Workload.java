package com.inferencekey;

import com.fasterxml.jackson.annotation.JsonAnySetter;
import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A workload as the server reports it. Fields the server did not send are null; fields this
 * SDK version does not know are kept in {@link #extra()}.
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public final class Workload {
    public String id;
    public String projectId;
    public String projectSlug;
    public String name;
    public String slug;
    public String description;
    public String taskType;
    public String backend;
    public String modelName;
    public Map<String, Object> config;
    public String workerId;
    public String gpuResourceId;
    public String executionPolicy;
    public Map<String, Object> executionPolicyConfig;
    public String createdAt;
    public String updatedAt;
    /** Local Manager: the current readiness phase. */
    public String status;
    /** Local Manager: what the phase means in words. */
    public String statusMessage;
    private final Map<String, Object> extra = new LinkedHashMap<>();

    @JsonAnySetter
    void putExtra(String key, Object value) { extra.put(key, value); }

    /** Keys the server sent that have no field here. */
    public Map<String, Object> extra() { return extra; }

    @Override
    public String toString() {
        return "Workload[slug=" + slug + ", id=" + id + ", model=" + modelName + ", status=" + status + "]";
    }
}
