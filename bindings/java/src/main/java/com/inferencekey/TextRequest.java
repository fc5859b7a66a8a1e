package com.inferencekey;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A chat completion request: exactly one of {@code prompt} or {@code messages}, plus optional
 * sampling settings. {@code extra} holds body keys passed through verbatim; {@code timeout}
 * bounds the whole call (for a stream, the whole stream) and {@code maxRetries} replaces the
 * client's retry count for it.
 *
 * <pre>{@code TextRequest.builder().prompt("Hola").temperature(0.2).maxTokens(300).build()}</pre>
 */
public record TextRequest(
        String prompt,
        List<Map<String, Object>> messages,
        String model,
        Double temperature,
        Integer maxTokens,
        Double topP,
        Object stop,
        Long seed,
        Object responseFormat,
        Object tools,
        Double frequencyPenalty,
        Double presencePenalty,
        Boolean logprobs,
        Integer n,
        String user,
        Map<String, Object> extra,
        @JsonIgnore Duration timeout,
        Integer maxRetries) {

    /** The timeout in seconds, as the ABI takes it. */
    @JsonProperty("timeout")
    Double timeoutSeconds() { return timeout == null ? null : timeout.toNanos() / 1e9; }

    /** A request with just a prompt. */
    public static TextRequest of(String prompt) { return builder().prompt(prompt).build(); }

    public static Builder builder() { return new Builder(); }

    /** One chat message ({@code role}, {@code content}). */
    public static Map<String, Object> message(String role, String content) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("role", role);
        m.put("content", content);
        return m;
    }

    /** Builds a {@link TextRequest}. */
    public static final class Builder {
        private String prompt, model;
        private List<Map<String, Object>> messages;
        private Double temperature, topP;
        private Integer maxTokens;
        private Object stop, responseFormat, tools;
        private Double frequencyPenalty, presencePenalty;
        private Boolean logprobs;
        private Integer n;
        private String user;
        private Long seed;
        private Map<String, Object> extra;
        private Duration timeout;
        private Integer maxRetries;

        private Builder() {}

        public Builder prompt(String v) { prompt = v; return this; }
        public Builder messages(List<Map<String, Object>> v) { messages = v == null ? null : List.copyOf(v); return this; }
        public Builder model(String v) { model = v; return this; }
        public Builder temperature(double v) { temperature = v; return this; }
        public Builder maxTokens(int v) { maxTokens = v; return this; }
        public Builder topP(double v) { topP = v; return this; }
        /** A stop string or a list of them. */
        public Builder stop(Object v) { stop = v; return this; }
        public Builder seed(long v) { seed = v; return this; }
        public Builder responseFormat(Object v) { responseFormat = v; return this; }
        public Builder tools(Object v) { tools = v; return this; }
        public Builder frequencyPenalty(double v) { frequencyPenalty = v; return this; }
        public Builder presencePenalty(double v) { presencePenalty = v; return this; }
        public Builder logprobs(boolean v) { logprobs = v; return this; }
        /** How many choices to generate. */
        public Builder n(int v) { n = v; return this; }
        /** An end-user id passed to the server. */
        public Builder user(String v) { user = v; return this; }
        /** Body keys passed through verbatim. */
        public Builder extra(Map<String, Object> v) { extra = v == null ? null : new LinkedHashMap<>(v); return this; }
        public Builder timeout(Duration v) { timeout = v; return this; }
        /** This call's retry count (0 to 100), instead of the client's. */
        public Builder maxRetries(int v) { maxRetries = v; return this; }

        public TextRequest build() {
            return new TextRequest(prompt, messages, model, temperature, maxTokens, topP, stop, seed, responseFormat,
                    tools, frequencyPenalty, presencePenalty, logprobs, n, user, extra, timeout, maxRetries);
        }
    }
}
