package com.inferencekey;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Arrays;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** Java's error kinds are exactly the library's: checked against ik_status_name, not a hand copy. */
class ErrorKindTest {
    @Test
    void javaKindsAreTheLibrarysKinds() {
        Set<String> library = new TreeSet<>();
        // Status numbers are small and dense; scan well past the end so a new one cannot hide.
        for (int status = 1; status < 256; status++) {
            String name = Abi.statusName(status);
            if (!name.equals("unknown")) library.add(name);
        }
        Set<String> java = Arrays.stream(ErrorKind.values()).map(ErrorKind::wire).collect(Collectors.toCollection(TreeSet::new));
        assertEquals(library, java);
        assertEquals("ok", Abi.statusName(0));
    }

    @Test
    void eachKindHasItsOwnExceptionClass() {
        Set<Class<?>> classes = Arrays.stream(ErrorKind.values())
                .map(k -> k.exception(ErrorInfo.local(k, null, null, k.wire())).getClass())
                .collect(Collectors.toSet());
        assertEquals(ErrorKind.values().length, classes.size());
        for (ErrorKind k : ErrorKind.values()) {
            assertEquals(k, k.exception(ErrorInfo.local(k, null, null, "x")).kind());
        }
    }
}
