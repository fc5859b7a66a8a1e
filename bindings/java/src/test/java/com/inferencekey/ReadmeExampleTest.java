package com.inferencekey;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The README's Java example, extracted verbatim and run as a program against the real Manager. */
class ReadmeExampleTest extends ManagerTest {
    /** The first ```java block of the repository README. */
    static String readmeJava() throws Exception {
        List<String> lines = Files.readAllLines(Path.of("../../README.md"));
        int start = lines.indexOf("```java");
        if (start < 0) throw new AssertionError("README.md has no ```java block");
        int end = lines.subList(start + 1, lines.size()).indexOf("```") + start + 1;
        return String.join("\n", lines.subList(start + 1, end)) + "\n";
    }

    @Test
    void readmeExampleRuns(@TempDir Path dir) throws Exception {
        Path source = dir.resolve("Example.java");
        Files.writeString(source, readmeJava());
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        // The source launcher compiles and runs the file, with the SDK (and its native library,
        // packaged under native/) on the class path, as a user's program would have it.
        var pb = new ProcessBuilder(java.toString(), "--enable-native-access=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"), source.toString())
                .redirectErrorStream(true);
        pb.environment().putAll(manager.env);
        pb.environment().remove(NativeLibrary.ENV);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(5, TimeUnit.MINUTES), "the example did not finish");
        assertEquals(0, p.exitValue(), out);
        String[] lines = out.split("\n");
        assertTrue(lines[0].matches("(CREATED|UNCHANGED|UPDATED) acme/support-bot"), out);
        assertTrue(lines[1].contains("Hola"), out);
        assertTrue(lines[2].length() > 10, out);
        assertTrue(lines[3].startsWith("404 not_found: not found: "), out);
    }
}
