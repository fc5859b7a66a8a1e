package com.inferencekey;

import com.fasterxml.jackson.databind.JavaType;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The control plane ({@code ik_sdk_} token, one project): declare workloads with
 * {@link #ensure}, inspect and delete them. It cannot call inference. Thread-safe: share one
 * client. Close it when done (a {@link java.lang.ref.Cleaner} frees a forgotten one).
 *
 * <pre>{@code
 * try (var mgmt = ManagementClient.fromEnv("acme")) {   // reads INFERENCEKEY_SDK_TOKEN
 *     EndpointRef ref = mgmt.ensure(spec);               // OnDrift.RECONCILE
 * }
 * }</pre>
 */
public final class ManagementClient implements AutoCloseable {
    private static final JavaType WORKLOADS = Abi.JSON.getTypeFactory().constructCollectionType(List.class, Workload.class);

    private final Handle handle;

    private ManagementClient(Map<String, Object> options) {
        String json = Abi.toJson(options, "options");
        MemorySegment ptr = Abi.run((l, a, out) -> (int) l.mgmtNew.invokeExact(a.allocateFrom(json), out), (l, p) -> p);
        this.handle = new Handle("management client", ptr, Abi.lib().mgmtFree);
    }

    /**
     * A client for {@code project} with the token from {@code INFERENCEKEY_SDK_TOKEN} and the
     * base URL from {@code INFERENCEKEY_BASE_URL} (default the hosted platform).
     *
     * @throws ConfigurationException for a missing token
     * @throws PermissionDeniedException ({@code wrong_credential_type}) for an {@code ik_live_} token
     */
    public static ManagementClient fromEnv(String project) { return builder().project(project).build(); }

    /** {@link #fromEnv(String)} with the project from {@code INFERENCEKEY_PROJECT}. */
    public static ManagementClient fromEnv() { return builder().build(); }

    public static Builder builder() { return new Builder(); }

    /** Ensures with {@link OnDrift#RECONCILE}: creates the workload, or patches what drifted. */
    public EndpointRef ensure(WorkloadSpec spec) { return ensure(spec, OnDrift.RECONCILE); }

    /**
     * Makes the platform match {@code spec}, idempotent by its slug: create when absent, and
     * on drift act per {@code onDrift}.
     *
     * @throws ValidationException a field of the spec is invalid ({@link ValidationException#field()})
     * @throws DriftException under {@link OnDrift#FAIL} when the workload drifted (with the plan)
     */
    public EndpointRef ensure(WorkloadSpec spec, OnDrift onDrift) {
        return ensure(spec, onDrift, null);
    }

    /** {@link #ensure(WorkloadSpec, OnDrift)} with a total deadline for the call. */
    public EndpointRef ensure(WorkloadSpec spec, OnDrift onDrift, Duration timeout) {
        String specJson = Abi.toJson(spec, "spec");
        Map<String, Object> o = new LinkedHashMap<>();
        Options.put(o, "on_drift", onDrift == null ? null : onDrift.wire());
        Options.put(o, "timeout", Options.seconds(timeout));
        String opts = Abi.toJson(o, "options");
        String json = handle.use(c -> Abi.runString((l, a, out) ->
                (int) l.ensure.invokeExact(c, a.allocateFrom(specJson), a.allocateFrom(opts), out)));
        return Abi.fromJson(json, EndpointRef.class);
    }

    /** The workload with this slug. @throws NotFoundException when there is none */
    public Workload get(String slug) {
        String s = Abi.checkedArg(slug, "slug");
        String json = handle.use(c -> Abi.runString((l, a, out) ->
                (int) l.get.invokeExact(c, a.allocateFrom(s), MemorySegment.NULL, out)));
        return Abi.fromJson(json, Workload.class);
    }

    /** Every workload of the project. */
    public List<Workload> list() {
        String json = handle.use(c -> Abi.runString((l, a, out) -> (int) l.list.invokeExact(c, MemorySegment.NULL, out)));
        return Abi.fromJson(json, WORKLOADS);
    }

    /** Deletes the workload. @throws NotFoundException when it does not exist */
    public void delete(String slug) {
        String s = Abi.checkedArg(slug, "slug");
        handle.use(c -> {
            Abi.runVoid((l, a, out) -> (int) l.delete.invokeExact(c, a.allocateFrom(s), MemorySegment.NULL));
            return null;
        });
    }

    /**
     * Blocks until the workload is ready (following its readiness stream, reconnecting when it
     * drops) and returns the {@code ready} event.
     *
     * @throws ServerException ({@code workload_error}) when the workload failed to start
     * @throws TimeoutException after {@code timeout}
     */
    public ReadinessEvent waitUntilReady(String slug, Duration timeout) {
        String s = Abi.checkedArg(slug, "slug");
        Map<String, Object> o = new LinkedHashMap<>();
        Options.put(o, "timeout", Options.seconds(timeout));
        String opts = Abi.toJson(o, "options");
        String json = handle.use(c -> Abi.runString((l, a, out) ->
                (int) l.waitUntilReady.invokeExact(c, a.allocateFrom(s), a.allocateFrom(opts), out)));
        return Abi.fromJson(json, ReadinessEvent.class);
    }

    /** The workload's readiness events, ending after {@code ready} or {@code error}. Close it. */
    public NativeStream<ReadinessEvent> readinessEvents(String slug) {
        String s = Abi.checkedArg(slug, "slug");
        MemorySegment ptr = handle.use(c -> Abi.run((l, a, out) ->
                (int) l.readinessEvents.invokeExact(c, a.allocateFrom(s), MemorySegment.NULL, out), (l, p) -> p));
        return new NativeStream<>(ptr, ReadinessEvent.class);
    }

    /** Frees the client; idempotent. Streams opened from it stay usable. */
    @Override
    public void close() { handle.close(); }

    /** Options for {@link ManagementClient}; unset values fall back to the environment. */
    public static final class Builder {
        private String baseUrl, project, sdkToken;
        private Duration timeout, connectTimeout, readTimeout;
        private Integer maxRetries;

        private Builder() {}

        public Builder baseUrl(String v) { baseUrl = v; return this; }
        public Builder project(String v) { project = v; return this; }
        /** The {@code ik_sdk_} token (else {@code INFERENCEKEY_SDK_TOKEN}). */
        public Builder sdkToken(String v) { sdkToken = v; return this; }
        /** Deadline for a whole call, retries included. */
        public Builder timeout(Duration v) { timeout = v; return this; }
        public Builder connectTimeout(Duration v) { connectTimeout = v; return this; }
        /** Longest silence while reading an answer. */
        public Builder readTimeout(Duration v) { readTimeout = v; return this; }
        public Builder maxRetries(int v) { maxRetries = v; return this; }

        public ManagementClient build() {
            return new ManagementClient(Options.client(baseUrl, project, "sdk_token", sdkToken, timeout, connectTimeout,
                    readTimeout, maxRetries));
        }
    }
}
