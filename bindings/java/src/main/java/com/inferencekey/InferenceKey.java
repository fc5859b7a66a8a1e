package com.inferencekey;

/** Facts about the loaded native SDK. */
public final class InferenceKey {
    private InferenceKey() {}

    /** The version of the native core ({@code ik_version}). */
    public static String version() { return Abi.version(); }

    /** The library file in use (from {@link NativeLibrary}'s search). */
    public static String libraryPath() { return Abi.lib().path.toString(); }
}
