package com.inferencekey;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The workload you want: what to run, never where (no provider, no VRAM floor). Field names
 * are the spec's wire names in camelCase; {@code null} means "not declared" (not compared
 * for drift, server default on create). Build one with {@link #builder()}:
 *
 * <pre>{@code
 * WorkloadSpec.builder().name("support-bot").slug("support-bot")
 *     .model("meta-llama/Llama-3.1-8B-Instruct").backend(Backend.VLLM)
 *     .command("vllm serve meta-llama/Llama-3.1-8B-Instruct --max-model-len 8192").build();
 * }</pre>
 *
 * Validation (required fields, slug rules, policy configs, no secrets) happens in the core
 * when the spec is ensured, and fails with a {@link ValidationException} naming the field.
 */
public record WorkloadSpec(
        String name,
        String slug,
        String model,
        String backend,
        String project,
        String description,
        String command,
        String vllmVersion,
        String taskType,
        Map<String, Object> config,
        String executionPolicy,
        Map<String, Object> executionPolicyConfig,
        String workerId,
        String gpuResourceId) {

    public static Builder builder() { return new Builder(); }

    /** A builder holding this spec's values, for variations of one base spec. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.name = name; b.slug = slug; b.model = model; b.backend = backend; b.project = project;
        b.description = description; b.command = command; b.vllmVersion = vllmVersion; b.taskType = taskType;
        b.config = config; b.executionPolicy = executionPolicy; b.executionPolicyConfig = executionPolicyConfig;
        b.workerId = workerId; b.gpuResourceId = gpuResourceId;
        return b;
    }

    /** Builds a {@link WorkloadSpec}; every setter returns the builder. */
    public static final class Builder {
        private String name, slug, model, backend, project, description, command, vllmVersion, taskType;
        private Map<String, Object> config, executionPolicyConfig;
        private String executionPolicy, workerId, gpuResourceId;

        private Builder() {}

        public Builder name(String v) { name = v; return this; }
        /** The idempotency key: {@code ensure} converges on the one workload with this slug. */
        public Builder slug(String v) { slug = v; return this; }
        public Builder model(String v) { model = v; return this; }
        public Builder backend(Backend v) { backend = v == null ? null : v.wire(); return this; }
        /** A backend by wire name, for engines this SDK version has no constant for. */
        public Builder backend(String v) { backend = v; return this; }
        public Builder project(String v) { project = v; return this; }
        public Builder description(String v) { description = v; return this; }
        /** How the engine is launched ({@code vllm serve ...}); goes into {@code config.command}. */
        public Builder command(String v) { command = v; return this; }
        public Builder vllmVersion(String v) { vllmVersion = v; return this; }
        public Builder taskType(TaskType v) { taskType = v == null ? null : v.wire(); return this; }
        public Builder taskType(String v) { taskType = v; return this; }
        public Builder config(Map<String, Object> v) { config = v == null ? null : new LinkedHashMap<>(v); return this; }
        public Builder executionPolicy(ExecutionPolicy v) { executionPolicy = v == null ? null : v.wire(); return this; }
        public Builder executionPolicy(String v) { executionPolicy = v; return this; }
        public Builder executionPolicyConfig(Map<String, Object> v) {
            executionPolicyConfig = v == null ? null : new LinkedHashMap<>(v);
            return this;
        }
        /** Pins the workload to a registered private worker ({@code wrk_...}). */
        public Builder workerId(String v) { workerId = v; return this; }
        public Builder gpuResourceId(String v) { gpuResourceId = v; return this; }

        public WorkloadSpec build() {
            return new WorkloadSpec(name, slug, model, backend, project, description, command, vllmVersion, taskType,
                    config, executionPolicy, executionPolicyConfig, workerId, gpuResourceId);
        }
    }
}
