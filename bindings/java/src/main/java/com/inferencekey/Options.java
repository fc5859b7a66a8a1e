package com.inferencekey;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;

/** The client options object both constructors of the ABI take (keys in its snake_case). */
final class Options {
    private Options() {}

    static Map<String, Object> client(String baseUrl, String project, String tokenKey, String token,
                                      Duration timeout, Duration connectTimeout, Duration readTimeout, Integer maxRetries) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("language", "java");
        put(m, "base_url", baseUrl);
        put(m, "project", project);
        put(m, tokenKey, token);
        put(m, "timeout", seconds(timeout));
        put(m, "connect_timeout", seconds(connectTimeout));
        put(m, "read_timeout", seconds(readTimeout));
        put(m, "max_retries", maxRetries);
        return m;
    }

    static void put(Map<String, Object> m, String k, Object v) {
        if (v != null) m.put(k, v);
    }

    static Double seconds(Duration d) { return d == null ? null : d.toNanos() / 1e9; }
}
