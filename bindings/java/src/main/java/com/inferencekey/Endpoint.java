package com.inferencekey;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One workload's OpenAI-compatible endpoint. Thread-safe: share one across threads. Close it
 * when done (a {@link java.lang.ref.Cleaner} frees a forgotten one).
 */
public final class Endpoint implements AutoCloseable {
    private final Handle handle;
    private final String workload;

    Endpoint(MemorySegment ptr, String workload) {
        this.handle = new Handle("endpoint", ptr, Abi.lib().endpointFree);
        this.workload = workload;
    }

    /** The workload slug this endpoint calls. */
    public String workload() { return workload; }

    /** {@code <base>/endpoint/<project>/<workload>/v1}: point any OpenAI client here with the key. */
    public String baseUrl() {
        return handle.use(e -> Abi.runString((l, a, out) -> (int) l.baseUrl.invokeExact(e, out)));
    }

    /** A chat completion. */
    public TextResult generateText(TextRequest request) {
        String req = Abi.toJson(request, "request");
        String json = handle.use(e -> Abi.runString((l, a, out) ->
                (int) l.generateText.invokeExact(e, a.allocateFrom(req), out)));
        return Abi.fromJson(json, TextResult.class);
    }

    /** A chat completion of one prompt. */
    public TextResult generateText(String prompt) { return generateText(TextRequest.of(prompt)); }

    /** A streamed chat completion; close the stream to stop early (that closes the connection). */
    public TextStream generateTextStream(TextRequest request) {
        String req = Abi.toJson(request, "request");
        MemorySegment ptr = handle.use(e -> Abi.run((l, a, out) ->
                (int) l.generateTextStream.invokeExact(e, a.allocateFrom(req), out), (l, p) -> p));
        return new TextStream(ptr);
    }

    /** Embeddings of {@code input}, in order. */
    public Embeddings embed(List<String> input) { return embed(EmbedRequest.of(input)); }

    /** Embeddings, with a model override, extra body keys or a timeout. */
    public Embeddings embed(EmbedRequest request) {
        return call(handle, Abi.lib().embed, Abi.toJson(request, "request"), Embeddings.class);
    }

    /** Ranks {@code documents} against {@code query}, best first; {@code topN} null for all. */
    public RerankResult rerank(String query, List<?> documents, Integer topN) {
        return rerank(RerankRequest.of(query, documents, topN));
    }

    public RerankResult rerank(RerankRequest request) {
        return call(handle, Abi.lib().rerank, Abi.toJson(request, "request"), RerankResult.class);
    }

    /** Submits an async job and returns its id. */
    public String submitJob(JobRequest job) {
        String req = Abi.toJson(job, "request");
        return handle.use(e -> Abi.runString((l, a, out) -> (int) l.submitJob.invokeExact(e, a.allocateFrom(req), out)));
    }

    /** A job's status (the local Manager serves it; elsewhere results go to your webhook). */
    public JobStatus jobStatus(String jobId) {
        String id = Abi.checkedArg(jobId, "job_id");
        String json = handle.use(e -> Abi.runString((l, a, out) ->
                (int) l.jobStatus.invokeExact(e, a.allocateFrom(id), MemorySegment.NULL, out)));
        return Abi.fromJson(json, JobStatus.class);
    }

    /** Polls until the job succeeded or failed (a failed job is a result, not an exception). */
    public JobStatus waitJob(String jobId, Duration timeout) {
        String id = Abi.checkedArg(jobId, "job_id");
        Map<String, Object> o = new LinkedHashMap<>();
        Options.put(o, "timeout", Options.seconds(timeout));
        String opts = Abi.toJson(o, "options");
        String json = handle.use(e -> Abi.runString((l, a, out) ->
                (int) l.waitJob.invokeExact(e, a.allocateFrom(id), a.allocateFrom(opts), out)));
        return Abi.fromJson(json, JobStatus.class);
    }

    private static <T> T call(Handle h, java.lang.invoke.MethodHandle fn, String req, Class<T> type) {
        String json = h.use(e -> Abi.runString((l, a, out) -> (int) fn.invokeExact(e, a.allocateFrom(req), out)));
        return Abi.fromJson(json, type);
    }

    /** Frees the endpoint; idempotent. Streams opened from it stay usable. */
    @Override
    public void close() { handle.close(); }
}
