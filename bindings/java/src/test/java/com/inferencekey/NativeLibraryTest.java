package com.inferencekey;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Where the native library comes from, and what a user is told when it is not there. */
class NativeLibraryTest {
    static final String PLATFORM = NativeLibrary.platform(System.getProperty("os.name"), System.getProperty("os.arch"));

    @Test
    void platformNames() {
        assertEquals("linux-x86_64", NativeLibrary.platform("Linux", "amd64"));
        assertEquals("macos-aarch64", NativeLibrary.platform("Mac OS X", "aarch64"));
        assertEquals("windows-x86_64", NativeLibrary.platform("Windows 11", "x86_64"));
        assertEquals("libinferencekey_capi.dylib", NativeLibrary.fileName("macos-aarch64"));
    }

    @Test
    void nothingFoundNamesEveryPlaceLookedAt() {
        var e = assertThrows(ConfigurationException.class,
                () -> NativeLibrary.locate(k -> null, k -> null, r -> null, "plan9-mips"));
        assertEquals("native_library_not_found", e.code());
        for (String part : new String[] {"system property inferencekey.library.path", "environment variable INFERENCEKEY_LIBRARY_PATH",
                "native/plan9-mips/libinferencekey_capi.so"}) {
            assertTrue(e.getMessage().contains(part), e.getMessage());
        }
    }

    @Test
    void anExplicitPathThatIsMissingIsAnErrorNotAFallback() {
        var e = assertThrows(ConfigurationException.class, () -> NativeLibrary.locate(
                Map.of(NativeLibrary.PROPERTY, "/nowhere/libx.so")::get, k -> null,
                r -> NativeLibrary.class.getClassLoader().getResource(r), PLATFORM));
        assertTrue(e.getMessage().contains("/nowhere/libx.so"), e.getMessage());
        var env = assertThrows(ConfigurationException.class, () -> NativeLibrary.locate(
                k -> null, Map.of(NativeLibrary.ENV, "/nowhere/liby.so")::get, r -> null, PLATFORM));
        assertTrue(env.getMessage().contains("environment variable INFERENCEKEY_LIBRARY_PATH"), env.getMessage());
    }

    @Test
    void propertyAndEnvWinOverTheJar(@TempDir Path dir) throws Exception {
        Path lib = Files.createFile(dir.resolve("libinferencekey_capi.so"));
        assertEquals(lib, NativeLibrary.locate(Map.of(NativeLibrary.PROPERTY, lib.toString())::get, k -> null, r -> null, PLATFORM));
        assertEquals(lib, NativeLibrary.locate(k -> null, Map.of(NativeLibrary.ENV, lib.toString())::get, r -> null, PLATFORM));
    }

    /** With nothing set, the build packaged under native/<platform>/ is extracted and loaded. */
    @Test
    void theJarCopyIsExtractedAndLoads() {
        Path p = NativeLibrary.locate(k -> null, k -> null, r -> NativeLibrary.class.getClassLoader().getResource(r), PLATFORM);
        assertTrue(Files.isRegularFile(p) && p.toString().contains("inferencekey-native-"), p.toString());
        if (System.getProperty(NativeLibrary.PROPERTY) == null && System.getenv(NativeLibrary.ENV) == null) {
            assertTrue(InferenceKey.libraryPath().contains("inferencekey-native-"), InferenceKey.libraryPath());
        }
        assertTrue(InferenceKey.version().matches("\\d+\\.\\d+\\.\\d+.*"), InferenceKey.version());
    }

    /** A library that cannot be opened is a clear error naming it, not a crash. */
    @Test
    void aLibraryThatCannotBeOpenedIsAConfigurationError(@TempDir Path dir) {
        Path missing = dir.resolve("gone/libinferencekey_capi.so");
        var e = assertThrows(ConfigurationException.class, () -> new Abi.Lib(missing));
        assertEquals("native_library_unloadable", e.code());
        assertTrue(e.getMessage().contains(missing.toString()), e.getMessage());
    }

    /** A shared library that is not the SDK (here libc) is named as a mismatch. */
    @Test
    void anotherLibraryIsAMismatch() {
        Path libc = Path.of("/lib/x86_64-linux-gnu/libc.so.6");
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.exists(libc), "no glibc at the Debian path");
        var e = assertThrows(ConfigurationException.class, () -> new Abi.Lib(libc));
        assertEquals("native_library_mismatch", e.code());
        assertTrue(e.getMessage().contains("has no symbol ik_version"), e.getMessage());
    }
}
