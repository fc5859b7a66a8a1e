package com.inferencekey;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Map;

/** A job's state: {@code queued}, {@code running}, {@code succeeded} or {@code failed}, with its result or error. */
public record JobStatus(String jobId, String status, JsonNode result, JsonNode error, String requestId,
                        Map<String, String> headers) {
    /** True once the job has succeeded or failed. */
    public boolean done() { return "succeeded".equals(status) || "failed".equals(status); }
}
