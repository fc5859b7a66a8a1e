package com.inferencekey;

import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;

/**
 * Finds {@code libinferencekey_capi}: the system property {@value #PROPERTY}, else the
 * environment variable {@value #ENV} (both a path to the library file, for development
 * against a local {@code cargo build}), else the copy packaged in the jar under
 * {@code native/<os>-<arch>/}, extracted to a temporary file because a shared library
 * cannot be loaded from inside a jar.
 */
public final class NativeLibrary {
    /** System property naming the library file. */
    public static final String PROPERTY = "inferencekey.library.path";
    /** Environment variable naming the library file. */
    public static final String ENV = "INFERENCEKEY_LIBRARY_PATH";

    private NativeLibrary() {}

    /** {@code linux-x86_64}, {@code macos-aarch64}, ...: the jar folder for this machine. */
    static String platform(String osName, String osArch) {
        String os = osName.toLowerCase(Locale.ROOT);
        String o = os.startsWith("linux") ? "linux" : os.startsWith("mac") ? "macos" : os.startsWith("windows") ? "windows" : os.replace(' ', '_');
        String a = switch (osArch.toLowerCase(Locale.ROOT)) {
            case "amd64", "x86_64" -> "x86_64";
            case "aarch64", "arm64" -> "aarch64";
            default -> osArch.toLowerCase(Locale.ROOT);
        };
        return o + "-" + a;
    }

    static String fileName(String platform) {
        if (platform.startsWith("macos")) return "libinferencekey_capi.dylib";
        if (platform.startsWith("windows")) return "inferencekey_capi.dll";
        return "libinferencekey_capi.so";
    }

    /**
     * The library file to load. {@code property} and {@code env} look settings up (injected
     * so tests can exercise every branch); {@code resources} finds jar resources.
     *
     * @throws ConfigurationException naming every place that was looked at
     */
    static Path locate(Function<String, String> property, Function<String, String> env,
                       Function<String, URL> resources, String platform) {
        List<String> looked = new ArrayList<>();
        for (var source : List.of(
                new String[] {"system property " + PROPERTY, property.apply(PROPERTY)},
                new String[] {"environment variable " + ENV, env.apply(ENV)})) {
            String value = source[1];
            if (value == null || value.isBlank()) {
                looked.add(source[0] + " (not set)");
                continue;
            }
            Path p = Path.of(value.trim());
            if (Files.isRegularFile(p)) return p;
            // An explicit setting that points nowhere is a mistake: do not silently fall back.
            throw new ConfigurationException("native_library_not_found", source[0],
                    source[0] + " is " + value.trim() + ", which is not a file; build it with "
                            + "`cargo build -p inferencekey-capi` (target/debug/" + fileName(platform) + ")");
        }
        String resource = "native/" + platform + "/" + fileName(platform);
        URL url = resources.apply(resource);
        if (url == null) {
            looked.add("classpath resource " + resource + " (absent: this jar has no build for " + platform + ")");
            throw new ConfigurationException("native_library_not_found", PROPERTY,
                    "the InferenceKey native library was not found; looked at: " + String.join("; ", looked)
                            + ". Set -D" + PROPERTY + "=/path/to/" + fileName(platform) + " or " + ENV);
        }
        return extract(url, fileName(platform));
    }

    private static Path extract(URL url, String name) {
        try (InputStream in = url.openStream()) {
            Path dir = Files.createTempDirectory("inferencekey-native-");
            Path file = dir.resolve(name);
            Files.copy(in, file, StandardCopyOption.REPLACE_EXISTING);
            file.toFile().deleteOnExit();
            dir.toFile().deleteOnExit();
            return file;
        } catch (IOException e) {
            throw new ConfigurationException("native_library_not_found", PROPERTY,
                    "could not extract the native library " + url + " to a temporary file: " + e.getMessage());
        }
    }

    /** The library for this JVM, located as described above. */
    static Path locate() {
        return locate(System::getProperty, System::getenv,
                r -> NativeLibrary.class.getClassLoader().getResource(r),
                platform(System.getProperty("os.name"), System.getProperty("os.arch")));
    }
}
