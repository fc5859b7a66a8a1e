package com.inferencekey;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The Java equivalent of every Python snippet in the product docs, run against the real local
 * Manager: the same calls, the same specs, in Java idiom.
 */
class SeedSnippetsTest extends ManagerTest {
    static final String LLAMA = "meta-llama/Llama-3.1-8B-Instruct";
    static final String LLAMA_CMD = "vllm serve meta-llama/Llama-3.1-8B-Instruct --max-model-len 8192";

    static Map<String, Object> cloudAutoscaling(int maxWorkers) {
        return Map.of(
                "min_workers", 0, "max_workers", maxWorkers, "max_hourly_cost_usd", 5.0,
                "workers", Map.of("source", "cloud", "cloud_pool", Map.of(
                        "gpu_pool", List.of("NVIDIA A100-SXM4-80GB"),
                        "max_hourly_cost_usd", 5.0, "max_instances", maxWorkers)));
    }

    /** Overview + "Your first ensure()": provision support-bot, then call it from the data plane. */
    @Test
    void firstEnsureThenGenerateText() {
        try (var mgmt = ManagementClient.fromEnv("acme")) {   // reads INFERENCEKEY_SDK_TOKEN
            EndpointRef ref = mgmt.ensure(WorkloadSpec.builder()
                    .name("support-bot")
                    .slug("support-bot")                       // idempotency key
                    .model(LLAMA)
                    .backend(Backend.VLLM)
                    .command(LLAMA_CMD)
                    .build());                                 // onDrift defaults to RECONCILE
            assertEquals("acme", ref.projectSlug());
            assertEquals("support-bot", ref.workloadSlug());

            // Run it again: still exactly one support-bot.
            EndpointRef again = mgmt.ensure(WorkloadSpec.builder().name("support-bot").slug("support-bot")
                    .model(LLAMA).backend(Backend.VLLM).command(LLAMA_CMD).build());
            assertEquals(EnsureAction.UNCHANGED, again.action());
            assertEquals(1, mgmt.list().stream().filter(w -> "support-bot".equals(w.slug())).count());

            try (var data = DataClient.fromEnv("acme");
                 var ep = data.endpoint(ref.workloadSlug(), manager.apiKey)) {
                TextResult out = ep.generateText(TextRequest.builder()
                        .prompt("Hola").temperature(0.2).maxTokens(300).build());
                assertTrue(out.text().contains("Hola"), out.text());
                assertNotNull(out.model());
                // The result carries the response: its request id and headers.
                assertNotNull(out.requestId());
                assertEquals(out.requestId(), out.headers().get("x-request-id"));
                // A per-call retry count: checked by the core, named in the error.
                var bad = assertThrows(ConfigurationException.class, () -> ep.generateText(
                        TextRequest.builder().prompt("x").maxRetries(101).build()));
                assertEquals("max_retries", bad.field());
                assertTrue(ep.generateText(TextRequest.builder().prompt("x").maxRetries(0).build()).text()
                        .contains("x"));
            }
        }
    }

    /** Backends & policies: pin the vLLM version; execution_policy autoscaling. */
    @Test
    void vllmVersionAndAutoscaling() {
        try (var mgmt = ManagementClient.fromEnv("acme")) {
            var base = WorkloadSpec.builder().name("support-bot-pinned").slug("support-bot-pinned")
                    .model(LLAMA).backend(Backend.VLLM).command(LLAMA_CMD);
            EndpointRef ref = mgmt.ensure(base.vllmVersion("0.6.3").build());
            assertEquals("0.6.3", mgmt.get(ref.workloadSlug()).config().get("vllm_version"));
            EndpointRef scaled = mgmt.ensure(base.executionPolicy(ExecutionPolicy.AUTOSCALING)
                    .executionPolicyConfig(cloudAutoscaling(5)).build());
            assertEquals("autoscaling", scaled.workload().executionPolicy());
            mgmt.delete("support-bot-pinned");
        }
    }

    /** Backends & policies + modalities guide: an embedding workload, called with embed(). */
    @Test
    void embeddingWorkload() {
        try (var mgmt = ManagementClient.fromEnv("acme")) {
            EndpointRef ref = mgmt.ensure(WorkloadSpec.builder()
                    .name("Billing embeddings").slug("billing")
                    .model("BAAI/bge-large-en-v1.5").backend(Backend.VLLM)
                    .taskType(TaskType.EMBEDDING)
                    .command("vllm serve BAAI/bge-large-en-v1.5 --task embed")
                    .executionPolicy(ExecutionPolicy.SCHEDULED)
                    .executionPolicyConfig(Map.of("cron", "0 2 * * *"))   // nightly at 02:00
                    .build());
            assertEquals("embedding", ref.workload().taskType());
        }
        try (var data = DataClient.fromEnv("acme"); var ep = data.endpoint("billing", manager.apiKey)) {
            Embeddings emb = ep.embed(List.of("invoice #42", "refund policy"));
            assertEquals(2, emb.embeddings().size());
            assertTrue(emb.embeddings().get(0).length > 0);
            assertNotNull(emb.model());
        }
    }

    /** Modalities guide, chat: fixed policy, explicit task type, then the Spanish prompt. */
    @Test
    void chatFixedPolicyAndVariations() throws Exception {
        var base = WorkloadSpec.builder().name("Support bot").slug("support-bot-guide").model(LLAMA)
                .backend(Backend.VLLM).command(LLAMA_CMD);
        try (var mgmt = ManagementClient.fromEnv("acme")) {
            EndpointRef ref = mgmt.ensure(base.taskType(TaskType.TEXT2TEXT)
                    .executionPolicy(ExecutionPolicy.FIXED).executionPolicyConfig(Map.of("replicas", 1)).build());
            assertEquals("acme", ref.projectSlug());
            assertEquals("support-bot-guide", ref.workloadSlug());
            try (var data = DataClient.fromEnv("acme"); var ep = data.endpoint("support-bot-guide", manager.apiKey)) {
                TextResult out = ep.generateText(TextRequest.builder().prompt("Hola, ¿cuál es mi saldo?")
                        .temperature(0.2).maxTokens(300).build());
                assertTrue(out.text().contains("saldo"), out.text());
            }
            // The three variations of the guide, each reconciled in place on the same slug.
            EndpointRef a = mgmt.ensure(base.executionPolicy(ExecutionPolicy.AUTOSCALING)
                    .executionPolicyConfig(cloudAutoscaling(5)).build());
            assertEquals(EnsureAction.UPDATED, a.action());
            EndpointRef s = mgmt.ensure(base.executionPolicy(ExecutionPolicy.SCHEDULED)
                    .executionPolicyConfig(Map.of("window", "Mon-Fri 08:00-20:00 Europe/Madrid")).build());
            assertEquals("scheduled", s.workload().executionPolicy());
            String worker = manager.registerWorker("java-gpu-box");
            EndpointRef p = mgmt.ensure(base.workerId(worker).executionPolicy(ExecutionPolicy.FIXED)
                    .executionPolicyConfig(Map.of("replicas", 2)).build());
            assertEquals(worker, p.workload().workerId());
            assertEquals(2, ((Number) p.workload().executionPolicyConfig().get("replicas")).intValue());
            mgmt.delete("support-bot-guide");
        }
    }

    /** Modalities guide: image, speech and transcription workloads on vllm-omni. */
    @Test
    void omniModalities() throws Exception {
        String worker = manager.registerWorker("java-omni-box");
        try (var mgmt = ManagementClient.fromEnv("acme")) {
            EndpointRef img = mgmt.ensure(WorkloadSpec.builder().name("Poster maker").slug("poster-maker")
                    .model("stabilityai/stable-diffusion-3.5-large").backend(Backend.VLLM_OMNI)
                    .taskType(TaskType.TEXT2IMAGE).command("vllm-omni serve stabilityai/stable-diffusion-3.5-large")
                    .vllmVersion("0.6.3").executionPolicy(ExecutionPolicy.AUTOSCALING)
                    .executionPolicyConfig(cloudAutoscaling(3)).build());
            assertEquals("text2image", img.workload().taskType());
            EndpointRef tts = mgmt.ensure(WorkloadSpec.builder().name("Voice over").slug("voice-over")
                    .model("hexgrad/Kokoro-82M").backend(Backend.VLLM_OMNI).taskType(TaskType.TEXT2AUDIO)
                    .command("vllm-omni serve hexgrad/Kokoro-82M").workerId(worker)
                    .executionPolicy(ExecutionPolicy.FIXED).executionPolicyConfig(Map.of("replicas", 1)).build());
            assertEquals(worker, tts.workload().workerId());
            EndpointRef stt = mgmt.ensure(WorkloadSpec.builder().name("Transcriber").slug("transcriber")
                    .model("openai/whisper-large-v3").backend(Backend.VLLM_OMNI).taskType(TaskType.AUDIO2TEXT)
                    .command("vllm-omni serve openai/whisper-large-v3")
                    .executionPolicy(ExecutionPolicy.SCHEDULED).executionPolicyConfig(Map.of("cron", "0 0 * * *")).build());
            assertEquals("audio2text", stt.workload().taskType());
            for (String slug : List.of("poster-maker", "voice-over", "transcriber")) mgmt.delete(slug);
        }
    }

    /** Modalities guide: an async-only reranker, then rerank() on it. */
    @Test
    void rerankerIsAsyncOnly() {
        try (var mgmt = ManagementClient.fromEnv("acme")) {
            EndpointRef ref = mgmt.ensure(WorkloadSpec.builder().name("Search reranker").slug("search-reranker")
                    .model("BAAI/bge-reranker-v2-m3").backend(Backend.VLLM).taskType(TaskType.RERANKER)
                    .command("vllm serve BAAI/bge-reranker-v2-m3 --task score")
                    .executionPolicy(ExecutionPolicy.AUTOSCALING).executionPolicyConfig(cloudAutoscaling(3)).build());
            assertEquals("reranker", ref.workload().taskType());
            mgmt.waitUntilReady("search-reranker", Duration.ofMinutes(2));
        }
        try (var data = DataClient.fromEnv("acme"); var ep = data.endpoint("search-reranker", manager.apiKey)) {
            // No synchronous route on an async-only workload: a 400 naming the jobs route instead.
            var e = assertThrows(ValidationException.class, () -> ep.generateText(TextRequest.of("hi")));
            assertEquals(400, e.status());
            assertTrue(e.getMessage().contains("/jobs"), e.getMessage());
            assertNotNull(e.requestId());
            // Jobs are how it is called.
            String id = ep.submitJob(JobRequest.json("rerank", Map.of("query", "refund policy",
                    "documents", List.of("invoice #42", "our refund policy", "weather"))));
            JobStatus st = ep.waitJob(id, Duration.ofMinutes(1));
            assertEquals("succeeded", st.status(), String.valueOf(st.error()));
            assertEquals(3, st.result().path("results").size(), st.result().toString());
        }
    }
}
