package com.inferencekey;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One real local Manager for the whole test run, started the way a user starts it
 * ({@code inferencekey-manager serve --dev --allow-any-command --port 0}) with its own data dir
 * on loopback, and bootstrapped with its CLI ({@code init}, {@code key create}). The seed
 * snippets call {@code fromEnv(...)}, so the variables {@code init} prints are put into this
 * process's C environment (where the native core reads them) with libc's {@code setenv}.
 */
final class TestManager {
    static final String PROJECT = "acme";

    final Path binary;
    final Path dataDir;
    final Process process;
    final String baseUrl;
    final String sdkToken;
    final String apiKey;
    /** Variables for child processes (the README example). */
    final Map<String, String> env = new LinkedHashMap<>();

    private static TestManager instance;

    static synchronized TestManager get() {
        if (instance == null) {
            try {
                instance = new TestManager();
            } catch (IOException | InterruptedException e) {
                throw new IllegalStateException("could not start the test Manager: " + e, e);
            }
            Runtime.getRuntime().addShutdownHook(new Thread(instance::stop));
        }
        return instance;
    }

    private TestManager() throws IOException, InterruptedException {
        binary = Path.of(System.getProperty("inferencekey.manager", "../../target/debug/inferencekey-manager"));
        if (!Files.isExecutable(binary)) {
            throw new IllegalStateException(binary + " is missing: run `cargo build -p inferencekey-manager` first");
        }
        dataDir = Files.createTempDirectory("ik-java-manager-");
        Path log = dataDir.resolve("manager.log");
        ProcessBuilder builder = new ProcessBuilder(binary.toString(), "serve", "--dev", "--allow-any-command",
                "--port", "0", "--data-dir", dataDir.resolve("data").toString())
                .redirectErrorStream(true).redirectOutput(log.toFile());
        // The seed's embedding workload runs on a nightly cron and is called right after it is
        // created; schedules are enforced, so this Manager's clock starts inside that schedule.
        builder.environment().put("INFERENCEKEY_DEV_CLOCK", "2026-12-01T02:00:30Z");
        process = builder.start();
        Path address = dataDir.resolve("data").resolve("address");
        // The Manager writes its address file once it listens; bounded wait for a slow machine.
        for (int i = 0; i < 600 && !(Files.exists(address) && Files.size(address) > 0); i++) {
            if (!process.isAlive()) throw new IllegalStateException("the Manager exited: " + Files.readString(log));
            Thread.sleep(100);
        }
        if (!Files.exists(address)) throw new IllegalStateException("the Manager did not start: " + Files.readString(log));

        Map<String, String> exported = new LinkedHashMap<>();
        Matcher m = Pattern.compile("export (\\w+)=(.*)").matcher(cli("init", "--project", PROJECT));
        while (m.find()) exported.put(m.group(1), m.group(2).trim().replaceAll("^['\"]|['\"]$", ""));
        baseUrl = exported.get("INFERENCEKEY_BASE_URL");
        sdkToken = exported.get("INFERENCEKEY_SDK_TOKEN");
        if (baseUrl == null || sdkToken == null || !baseUrl.startsWith("http://127.")) {
            throw new IllegalStateException("unexpected `init` output: " + exported);
        }
        apiKey = cli("key", "create", "--project", PROJECT, "--all").trim();
        env.putAll(exported);
        env.put("INFERENCEKEY_API_KEY", apiKey);
        env.forEach(TestManager::setenv);
    }

    /** Runs the Manager's CLI against this Manager's data dir and returns its stdout. */
    String cli(String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(binary.toString()));
        cmd.addAll(List.of(args));
        cmd.addAll(List.of("--data-dir", dataDir.resolve("data").toString()));
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IllegalStateException(String.join(" ", cmd) + " failed: " + out);
        }
        return out;
    }

    /** A new project's {@code ik_sdk_} token. */
    String sdkTokenFor(String project) throws IOException, InterruptedException {
        Matcher m = Pattern.compile("INFERENCEKEY_SDK_TOKEN=['\"]?([^'\"\\s]+)").matcher(cli("init", "--project", project));
        if (!m.find()) throw new IllegalStateException("no token for " + project);
        return m.group(1);
    }

    /** A key for one workload only. */
    String keyFor(String workload) throws IOException, InterruptedException {
        return cli("key", "create", "--project", PROJECT, "--workload", workload).trim();
    }

    String registerWorker(String name) throws IOException, InterruptedException {
        return cli("worker", "register", "--name", name).trim();
    }

    /** The TCP port the Manager listens on. */
    int port() { return Integer.parseInt(baseUrl.replaceAll(".*:(\\d+).*", "$1")); }

    void stop() {
        process.destroy();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) process.destroyForcibly();
        } catch (InterruptedException e) {
            process.destroyForcibly();
        }
    }

    @SuppressWarnings("restricted")
    private static void setenv(String name, String value) {
        try (Arena a = Arena.ofConfined()) {
            Linker linker = Linker.nativeLinker();
            MethodHandle setenv = linker.downcallHandle(linker.defaultLookup().find("setenv").orElseThrow(),
                    FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));
            int rc = (int) setenv.invokeExact(a.allocateFrom(name), a.allocateFrom(value), 1);
            if (rc != 0) throw new IllegalStateException("setenv " + name + " failed");
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }
}
