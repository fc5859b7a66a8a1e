import com.fasterxml.jackson.databind.ObjectMapper;
import com.inferencekey.DataClient;
import com.inferencekey.Endpoint;
import com.inferencekey.TextRequest;
import java.lang.management.ManagementFactory;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The Java row of benches/: N threads sharing one client against the fixed-answer nginx, the
 * InferenceKey SDK against the JDK's own HttpClient (the floor: one shared client, the same
 * request body, the answer's text parsed with Jackson). Clients run in interleaved rounds, the
 * order rotating each round. Prints one JSON object.
 *
 *   java --enable-native-access=ALL-UNNAMED -cp SDK_CLASSPATH JavaBench.java BASE_URL THREADS PER_THREAD ROUNDS
 */
public class JavaBench {
    static final String PROMPT = "Hola";
    static final int MAX_TOKENS = 16;
    static final String MODEL = "bench-model";
    static final String KEY = "ik_live_benchkey_0123456789abcdefghijklmnopqrstuv";
    static final ObjectMapper JSON = new ObjectMapper();
    static final java.util.concurrent.atomic.AtomicLong FLOOR_RETRIES = new java.util.concurrent.atomic.AtomicLong();

    interface Client {
        String chat() throws Exception;
    }

    public static void main(String[] args) throws Exception {
        String base = args[0];
        int threads = Integer.parseInt(args[1]), perThread = Integer.parseInt(args[2]), rounds = Integer.parseInt(args[3]);

        DataClient data = DataClient.builder().baseUrl(base).project("bench").build();
        Endpoint ep = data.endpoint("chat", KEY);
        TextRequest req = TextRequest.builder().model(MODEL).prompt(PROMPT).maxTokens(MAX_TOKENS).build();
        Client sdk = () -> ep.generateText(req).text();

        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        URI uri = URI.create(base + "/endpoint/bench/chat/v1/chat/completions");
        Client floor = () -> {
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("model", MODEL);
            body.put("messages", List.of(Map.of("role", "user", "content", PROMPT)));
            body.put("max_tokens", MAX_TOKENS);
            HttpRequest r = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(60))
                    .header("Authorization", "Bearer " + KEY).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofByteArray(JSON.writeValueAsBytes(body))).build();
            HttpResponse<byte[]> resp;
            try {
                resp = http.send(r, HttpResponse.BodyHandlers.ofByteArray());
            } catch (java.io.IOException e) {
                // The JDK client now and then drops a pooled connection against this nginx
                // ("Data received while in pool"); retry once, and count it in the output.
                FLOOR_RETRIES.incrementAndGet();
                resp = http.send(r, HttpResponse.BodyHandlers.ofByteArray());
            }
            if (resp.statusCode() != 200) throw new IllegalStateException("HTTP " + resp.statusCode());
            return JSON.readTree(resp.body()).path("choices").path(0).path("message").path("content").asText();
        };

        Map<String, Client> clients = new LinkedHashMap<>();
        clients.put("inferencekey, platform threads", sdk);
        clients.put("inferencekey, virtual threads", sdk);
        clients.put("JDK HttpClient, platform threads", floor);
        clients.put("JDK HttpClient, virtual threads", floor);

        // Same answer from every client before anything is timed; then warm up (JIT, pools).
        String expected = floor.chat();
        for (var e : clients.entrySet()) {
            String got = e.getValue().chat();
            if (!got.equals(expected)) throw new IllegalStateException(e.getKey() + " answered " + got);
        }
        for (var e : clients.entrySet()) batch(e.getKey(), e.getValue(), threads, Math.max(2, perThread / 2));

        Map<String, List<Double>> rates = new LinkedHashMap<>();
        Map<String, long[]> cpu = new LinkedHashMap<>();
        List<String> names = new ArrayList<>(clients.keySet());
        for (String n : names) { rates.put(n, new ArrayList<>()); cpu.put(n, new long[2]); }
        var os = (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
        for (int r = 0; r < rounds; r++) {
            for (int i = 0; i < names.size(); i++) {
                String n = names.get((i + r) % names.size());
                long c0 = os.getProcessCpuTime();
                double rate = batch(n, clients.get(n), threads, perThread);
                cpu.get(n)[0] += os.getProcessCpuTime() - c0;
                cpu.get(n)[1] += (long) threads * perThread;
                rates.get(n).add(rate);
            }
        }
        StringBuilder out = new StringBuilder("{\"threads\": " + threads + ", \"per_thread\": " + perThread
                + ", \"rounds\": " + rounds + ", \"java\": \"" + Runtime.version() + "\", \"library\": \""
                + com.inferencekey.InferenceKey.libraryPath() + "\", \"floor_retries\": " + FLOOR_RETRIES.get()
                + ", \"clients\": {");
        for (int i = 0; i < names.size(); i++) {
            String n = names.get(i);
            double[] v = rates.get(n).stream().mapToDouble(Double::doubleValue).sorted().toArray();
            double median = v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
            out.append(i == 0 ? "" : ", ").append('"').append(n).append("\": {\"calls_per_s\": ")
                    .append(String.format("%.1f", median)).append(", \"cpu_us_per_call\": ")
                    .append(String.format("%.1f", cpu.get(n)[0] / 1000.0 / cpu.get(n)[1]))
                    .append(", \"rounds\": ").append(Arrays.toString(v)).append('}');
        }
        System.out.println(out.append("}}"));
        ep.close();
        data.close();
    }

    /** threads x perThread calls, all threads released together; calls per second of wall time. */
    static double batch(String name, Client c, int threads, int perThread) throws Exception {
        boolean virtual = name.contains("virtual");
        CountDownLatch start = new CountDownLatch(1), done = new CountDownLatch(threads);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        for (int t = 0; t < threads; t++) {
            Runnable work = () -> {
                try {
                    start.await();
                    for (int i = 0; i < perThread; i++) c.chat();
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                } finally {
                    done.countDown();
                }
            };
            (virtual ? Thread.ofVirtual() : Thread.ofPlatform()).start(work);
        }
        long t0 = System.nanoTime();
        start.countDown();
        done.await();
        long ns = System.nanoTime() - t0;
        if (failure.get() != null) throw new IllegalStateException(name + " failed", failure.get());
        return threads * (double) perThread / (ns / 1e9);
    }
}
