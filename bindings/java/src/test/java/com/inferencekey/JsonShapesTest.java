package com.inferencekey;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The JSON the binding writes and reads is the ABI's documented shapes (snake_case, no nulls). */
class JsonShapesTest {
    @Test
    void requestsAreSnakeCaseWithoutNulls() {
        String req = Abi.toJson(TextRequest.builder().prompt("hi").maxTokens(5).topP(0.5)
                .timeout(Duration.ofMillis(1500)).build(), "request");
        assertEquals("{\"prompt\":\"hi\",\"max_tokens\":5,\"top_p\":0.5,\"timeout\":1.5}", req);
        String spec = Abi.toJson(WorkloadSpec.builder().name("n").slug("s").model("m").backend(Backend.VLLM_OMNI)
                .vllmVersion("0.6.3").executionPolicy(ExecutionPolicy.FIXED)
                .executionPolicyConfig(Map.of("replicas", 1)).build(), "spec");
        assertEquals("{\"name\":\"n\",\"slug\":\"s\",\"model\":\"m\",\"backend\":\"vllm-omni\",\"vllm_version\":\"0.6.3\","
                + "\"execution_policy\":\"fixed\",\"execution_policy_config\":{\"replicas\":1}}", spec);
        String job = Abi.toJson(JobRequest.binary("audio_transcriptions", new byte[] {1, 2, 3}, "audio/wav"), "request");
        assertEquals("{\"kind\":\"audio_transcriptions\",\"content_type\":\"audio/wav\",\"body_b64\":\"AQID\"}", job);
    }

    @Test
    void unknownWorkloadKeysAreKept() {
        Workload w = Abi.fromJson("{\"id\":\"w1\",\"slug\":\"s\",\"config\":{\"command\":\"c\"},\"brand_new\":42}", Workload.class);
        assertEquals("w1", w.id());
        assertEquals("c", w.config().get("command"));
        assertEquals(Map.of("brand_new", 42), w.extra());
    }

    @Test
    void endpointRefDecodes() {
        EndpointRef r = Abi.fromJson("{\"project_slug\":\"acme\",\"workload_slug\":\"s\",\"workload_id\":\"w1\","
                + "\"action\":\"would_update\",\"plan\":[{\"field\":\"config.command\",\"live\":\"a\",\"desired\":\"b\"}],"
                + "\"workload\":null}", EndpointRef.class);
        assertEquals(EnsureAction.WOULD_UPDATE, r.action());
        assertEquals(new Change("config.command", "a", "b"), r.plan().get(0));
    }
}
