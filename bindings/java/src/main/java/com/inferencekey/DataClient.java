package com.inferencekey;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The data plane: hands out per-workload {@link Endpoint}s ({@code ik_live_} keys) that share
 * this client's connection pool. It cannot provision. Thread-safe.
 *
 * <pre>{@code
 * try (var data = DataClient.fromEnv("acme");
 *      var ep = data.endpoint("support-bot", System.getenv("SUPPORT_IK_LIVE"))) {
 *     System.out.println(ep.generateText(TextRequest.of("Hola")).text());
 * }
 * }</pre>
 */
public final class DataClient implements AutoCloseable {
    private final Handle handle;

    private DataClient(Map<String, Object> options) {
        String json = Abi.toJson(options, "options");
        MemorySegment ptr = Abi.run((l, a, out) -> (int) l.dataNew.invokeExact(a.allocateFrom(json), out), (l, p) -> p);
        this.handle = new Handle("data client", ptr, Abi.lib().dataFree);
    }

    /** A client for {@code project}; base URL from {@code INFERENCEKEY_BASE_URL}. */
    public static DataClient fromEnv(String project) { return builder().project(project).build(); }

    /** {@link #fromEnv(String)} with the project from {@code INFERENCEKEY_PROJECT}. */
    public static DataClient fromEnv() { return builder().build(); }

    public static Builder builder() { return new Builder(); }

    /** The endpoint of {@code workload} with the client's key (else {@code INFERENCEKEY_API_KEY}). */
    public Endpoint endpoint(String workload) { return endpoint(workload, null); }

    /**
     * The endpoint of {@code workload} called with {@code apiKey}. No request is made.
     *
     * @throws PermissionDeniedException ({@code wrong_credential_type}) for an {@code ik_sdk_} token
     * @throws ConfigurationException when no key is given or set
     */
    public Endpoint endpoint(String workload, String apiKey) { return endpoint(workload, apiKey, null); }

    /** {@link #endpoint(String, String)} in another project than the client's. */
    public Endpoint endpoint(String workload, String apiKey, String project) {
        String w = Abi.checkedArg(workload, "workload");
        String opts = Abi.toJson(endpointOptions(apiKey, project), "options");
        MemorySegment ptr = handle.use(c -> Abi.run((l, a, out) ->
                (int) l.endpoint.invokeExact(c, a.allocateFrom(w), a.allocateFrom(opts), out), (l, p) -> p));
        return new Endpoint(ptr, w);
    }

    /** The endpoint options object (the core's {@code EndpointSettings}). */
    static Map<String, Object> endpointOptions(String apiKey, String project) {
        Map<String, Object> o = new LinkedHashMap<>();
        Options.put(o, "api_key", apiKey);
        Options.put(o, "project", project);
        return o;
    }

    /** Frees the client; idempotent. Endpoints made from it stay usable. */
    @Override
    public void close() { handle.close(); }

    /** Options for {@link DataClient}; unset values fall back to the environment. */
    public static final class Builder {
        private String baseUrl, project, apiKey;
        private Duration timeout, connectTimeout, readTimeout;
        private Integer maxRetries;

        private Builder() {}

        public Builder baseUrl(String v) { baseUrl = v; return this; }
        public Builder project(String v) { project = v; return this; }
        /** The default {@code ik_live_} key for endpoints (else {@code INFERENCEKEY_API_KEY}). */
        public Builder apiKey(String v) { apiKey = v; return this; }
        public Builder timeout(Duration v) { timeout = v; return this; }
        public Builder connectTimeout(Duration v) { connectTimeout = v; return this; }
        public Builder readTimeout(Duration v) { readTimeout = v; return this; }
        public Builder maxRetries(int v) { maxRetries = v; return this; }

        public DataClient build() {
            return new DataClient(Options.client(baseUrl, project, "api_key", apiKey, timeout, connectTimeout,
                    readTimeout, maxRetries));
        }
    }
}
