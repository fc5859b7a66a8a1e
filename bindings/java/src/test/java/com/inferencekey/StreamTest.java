package com.inferencekey;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Streaming as an AutoCloseable Iterator / Stream against the real Manager. */
class StreamTest extends ManagerTest {
    static final String WORKLOAD = "java-stream";

    @BeforeAll
    static void workload() { ensureReady(chat(WORKLOAD).build()); }

    @Test
    void streamedTextEqualsTheWholeAnswer() {
        try (var data = DataClient.fromEnv("acme"); var ep = data.endpoint(WORKLOAD)) {
            var req = TextRequest.builder().prompt("Tell me a story").maxTokens(24).build();
            StringBuilder text = new StringBuilder();
            int chunks = 0;
            String finish = null;
            try (TextStream s = ep.generateTextStream(req)) {
                while (s.hasNext()) {
                    TextChunk c = s.next();
                    text.append(c.text() == null ? "" : c.text());
                    chunks++;
                    if (c.finishReason() != null) finish = c.finishReason();
                }
                assertTrue(s.isClosed(), "reaching the end closes the stream");
            }
            assertTrue(chunks >= 2, "chunks: " + chunks);
            assertEquals("length", finish);
            assertEquals(ep.generateText(req).text(), text.toString());

            // The same through java.util.stream, closed by try-with-resources.
            try (var s = ep.generateTextStream(req).stream()) {
                assertEquals(text.toString(), s.map(c -> c.text() == null ? "" : c.text()).collect(Collectors.joining()));
            }
        }
    }

    /** Local TCP ports of this machine's established connections to the Manager. */
    static Set<Integer> connectionsTo(int port) throws IOException {
        Set<Integer> out = new HashSet<>();
        for (String table : new String[] {"/proc/net/tcp", "/proc/net/tcp6"}) {
            Path p = Path.of(table);
            if (!Files.exists(p)) continue;
            // Read once: the table changes between two reads (other processes open sockets).
            List<String> lines = Files.readAllLines(p);
            for (String line : lines.subList(1, lines.size())) {
                String[] f = line.trim().split("\\s+");
                int local = Integer.parseInt(f[1].substring(f[1].indexOf(':') + 1), 16);
                int remote = Integer.parseInt(f[2].substring(f[2].indexOf(':') + 1), 16);
                if (remote == port && "01".equals(f[3])) out.add(local);
            }
        }
        return out;
    }

    @Test
    void closingMidwayClosesTheConnection() throws Exception {
        // Each chunk comes 200 ms apart, 200 of them: the stream would run for 40 s.
        var req = TextRequest.builder().prompt("[[ik:chunk-delay:200]] go on").maxTokens(200).build();
        try (var data = DataClient.fromEnv("acme"); var ep = data.endpoint(WORKLOAD)) {
            Set<Integer> before = connectionsTo(manager.port());
            Set<Integer> mine;
            TextStream s = ep.generateTextStream(req);
            try {
                assertTrue(s.hasNext());
                s.next();
                mine = connectionsTo(manager.port());
                mine.removeAll(before);
                assertEquals(1, mine.size(), "the stream's own connection: " + mine);
                s.close();
                assertFalse(s.hasNext(), "a closed stream yields nothing");
                s.close(); // twice is fine
            } finally {
                // A failed assertion must not leak the stream into the next test's handle check.
                s.close();
            }
            // The socket is closed by the free, not left in the pool: it leaves ESTABLISHED.
            // (A finished stream would have returned its connection to the pool, still open.)
            int port = mine.iterator().next();
            for (int i = 0; i < 500 && connectionsTo(manager.port()).contains(port); i++) Thread.sleep(10);
            assertFalse(connectionsTo(manager.port()).contains(port), "connection " + port + " is still open");
        }
    }

    @Test
    void errorsMidStreamAreTypedAndCloseTheStream() {
        try (var data = DataClient.fromEnv("acme"); var ep = data.endpoint(WORKLOAD)) {
            TextStream s = ep.generateTextStream(TextRequest.of("[[ik:error]] hi"));
            var e = assertThrows(ServerException.class, () -> { while (s.hasNext()) s.next(); });
            assertTrue(e.getMessage().contains("engine_error") || e.code() != null, e.getMessage());
            assertTrue(s.isClosed());

            TextStream t = ep.generateTextStream(TextRequest.of("[[ik:truncate]] hi"));
            var cut = assertThrows(ProtocolException.class, () -> t.forEachRemaining(c -> { }));
            assertEquals("stream_truncated", cut.code());
            assertTrue(t.isClosed());
        }
    }
}
