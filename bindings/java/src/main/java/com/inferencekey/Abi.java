package com.inferencekey;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JavaType;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The C ABI ({@code include/inferencekey.h}) as method handles, and the one way to call it.
 *
 * <p>Why calls from virtual threads are moved onto platform threads: the library keeps each
 * call's error in a thread-local of the <em>OS</em> thread, to be read by the next call on that
 * thread, and a virtual thread may be moved to another carrier between two downcalls. Running
 * the call and its {@code ik_last_error_json()} as one task on one platform thread makes the
 * pair atomic with respect to the OS thread. It also keeps the blocking call (an HTTP request)
 * from pinning one of the few carrier threads: the virtual thread parks while it waits.
 * Platform threads are already 1:1 with OS threads and call directly.
 */
// The one class that touches raw native memory and symbols: its restricted calls are the point.
@SuppressWarnings("restricted")
final class Abi {
    private Abi() {}

    static final ObjectMapper JSON = new ObjectMapper()
            .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .setDefaultPropertyInclusion(JsonInclude.Include.NON_NULL)
            .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

    /** Platform threads that run calls made from virtual threads; grows with concurrency. */
    private static final ExecutorService CALLERS = Executors.newCachedThreadPool(
            Thread.ofPlatform().daemon().name("inferencekey-ffi-", 0).factory());

    /** The bound library; loaded on first use so a missing library is a catchable error. */
    static final class Lib {
        final MethodHandle version, statusName, lastErrorJson, stringFree, typeFields;
        final MethodHandle mgmtNew, mgmtFree, ensure, get, list, delete, waitUntilReady, readinessEvents;
        final MethodHandle dataNew, dataFree, endpoint, endpointFree, baseUrl;
        final MethodHandle generateText, generateTextStream, embed, rerank, submitJob, jobStatus, waitJob;
        final MethodHandle streamNext, streamFree;
        final MethodHandle webhookVerify, webhookSign, liveHandles;
        final Path path;

        Lib(Path path) {
            this.path = path;
            SymbolLookup lib;
            try {
                lib = SymbolLookup.libraryLookup(path, Arena.global());
            } catch (IllegalArgumentException e) {
                throw new ConfigurationException("native_library_unloadable", NativeLibrary.PROPERTY,
                        path + " could not be loaded (" + e.getMessage() + "); it must be a libinferencekey_capi "
                                + "build for this platform");
            }
            Linker linker = Linker.nativeLinker();
            // "critical": short calls that neither block nor call back, so the JVM may skip the
            // thread-state transition.
            var quick = Linker.Option.critical(false);
            var h = new Object() {
                MethodHandle fn(String name, FunctionDescriptor d, Linker.Option... o) {
                    MemorySegment sym = lib.find(name).orElseThrow(() -> new ConfigurationException(
                            "native_library_mismatch", NativeLibrary.PROPERTY,
                            path + " has no symbol " + name + "; it is not a matching libinferencekey_capi build"));
                    return linker.downcallHandle(sym, d, o);
                }
            };
            var ss = FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS);
            var sss = FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS);
            var ssss = FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS);
            var free = FunctionDescriptor.ofVoid(ADDRESS);
            version = h.fn("ik_version", FunctionDescriptor.of(ADDRESS), quick);
            statusName = h.fn("ik_status_name", FunctionDescriptor.of(ADDRESS, JAVA_INT), quick);
            lastErrorJson = h.fn("ik_last_error_json", FunctionDescriptor.of(ADDRESS), quick);
            stringFree = h.fn("ik_string_free", free, quick);
            typeFields = h.fn("ik_type_fields", ss);
            mgmtNew = h.fn("ik_mgmt_client_new", ss);
            mgmtFree = h.fn("ik_mgmt_client_free", free);
            ensure = h.fn("ik_mgmt_ensure", ssss);
            get = h.fn("ik_mgmt_get", ssss);
            list = h.fn("ik_mgmt_list", sss);
            delete = h.fn("ik_mgmt_delete", sss);
            waitUntilReady = h.fn("ik_mgmt_wait_until_ready", ssss);
            readinessEvents = h.fn("ik_mgmt_readiness_events", ssss);
            dataNew = h.fn("ik_data_client_new", ss);
            dataFree = h.fn("ik_data_client_free", free);
            endpoint = h.fn("ik_data_client_endpoint", ssss);
            endpointFree = h.fn("ik_endpoint_free", free);
            baseUrl = h.fn("ik_endpoint_base_url", ss);
            generateText = h.fn("ik_endpoint_generate_text", sss);
            generateTextStream = h.fn("ik_endpoint_generate_text_stream", sss);
            embed = h.fn("ik_endpoint_embed", sss);
            rerank = h.fn("ik_endpoint_rerank", sss);
            submitJob = h.fn("ik_endpoint_submit_job", sss);
            jobStatus = h.fn("ik_endpoint_job_status", ssss);
            waitJob = h.fn("ik_endpoint_wait_job", ssss);
            streamNext = h.fn("ik_stream_next", ss);
            streamFree = h.fn("ik_stream_free", free);
            // size_t and uint64_t are 64-bit on every platform the jar ships for.
            webhookVerify = h.fn("ik_webhook_verify", FunctionDescriptor.of(JAVA_INT,
                    ADDRESS, JAVA_LONG, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS));
            webhookSign = h.fn("ik_webhook_sign", FunctionDescriptor.of(JAVA_INT,
                    ADDRESS, JAVA_LONG, ADDRESS, JAVA_LONG, JAVA_LONG, ADDRESS));
            liveHandles = h.fn("ik_live_handles", FunctionDescriptor.of(JAVA_LONG), quick);
        }
    }

    private static volatile Lib lib;

    /** The library, loading it on first use; a failure is thrown again on every use. */
    static Lib lib() {
        Lib l = lib;
        if (l != null) return l;
        synchronized (Abi.class) {
            if (lib == null) lib = new Lib(NativeLibrary.locate());
            return lib;
        }
    }

    /** One ABI call: fills in arguments from {@code arena}, writes its result to {@code out}. */
    @FunctionalInterface
    interface Call {
        int invoke(Lib lib, Arena arena, MemorySegment out) throws Throwable;
    }

    /** Turns the out-pointer of a successful call into the result (on the calling OS thread). */
    @FunctionalInterface
    interface Take<T> {
        T take(Lib lib, MemorySegment out);
    }

    /** What one call produced: a value, an error JSON read on the same OS thread, or a crash. */
    private record Outcome<T>(T value, int status, String errorJson, Throwable crash) {}

    private static <T> Outcome<T> attempt(Lib l, Call call, Take<T> take) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            int st = call.invoke(l, arena, out);
            if (st != 0) return new Outcome<>(null, st, lastErrorJson(l), null);
            return new Outcome<>(take.take(l, out.get(ADDRESS, 0)), 0, null, null);
        } catch (Throwable t) {
            return new Outcome<>(null, -1, null, t);
        }
    }

    /**
     * Runs {@code call} and, on failure, reads its error on the same OS thread; throws the
     * matching {@link InferenceKeyException} on the caller's thread (so its stack trace is the
     * caller's).
     */
    static <T> T run(Call call, Take<T> take) {
        Lib l = lib();
        Outcome<T> o = Thread.currentThread().isVirtual()
                ? CompletableFuture.supplyAsync(() -> attempt(l, call, take), CALLERS).join()
                : attempt(l, call, take);
        if (o.crash != null) {
            if (o.crash instanceof RuntimeException r) throw r;
            if (o.crash instanceof Error e) throw e;
            throw new IllegalStateException(o.crash);
        }
        if (o.status != 0) throw error(l, o.status, o.errorJson);
        return o.value;
    }

    /** {@link #run} for calls whose result is a string the library allocated. */
    static String runString(Call call) {
        return run(call, Abi::takeString);
    }

    /** {@link #run} for calls that return nothing. */
    static void runVoid(Call call) {
        run(call, (l, p) -> null);
    }

    private static String lastErrorJson(Lib l) throws Throwable {
        return takeString(l, (MemorySegment) l.lastErrorJson.invokeExact());
    }

    /** Copies a library string and frees it; NULL is null. */
    static String takeString(Lib l, MemorySegment p) {
        if (p.address() == 0) return null;
        try {
            return p.reinterpret(Long.MAX_VALUE).getString(0);
        } finally {
            try {
                l.stringFree.invokeExact(p);
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            }
        }
    }

    static InferenceKeyException error(Lib l, int status, String json) {
        if (json != null) {
            try {
                return JSON.readValue(json, ErrorInfo.class).toException();
            } catch (JsonProcessingException e) {
                // fall through: report the status alone
            }
        }
        String name = statusName(status);
        return ErrorInfo.local(ErrorKind.of(name), name, null, "the SDK reported status " + name).toException();
    }

    /** {@code ik_status_name}: the ABI's name for a status number ("unknown" past the end). */
    static String statusName(int status) {
        try {
            MemorySegment p = (MemorySegment) lib().statusName.invokeExact(status);
            return p.reinterpret(Long.MAX_VALUE).getString(0);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** {@code ik_type_fields}: the JSON field names of one of the core's types. */
    static java.util.List<String> typeFields(String typeName) {
        String name = checkedArg(typeName, "type_name");
        String json = runString((l, a, out) -> (int) l.typeFields.invokeExact(a.allocateFrom(name), out));
        return fromJson(json, JSON.getTypeFactory().constructCollectionType(java.util.List.class, String.class));
    }

    /** {@code ik_live_handles}: handles the library handed out and has not had freed. */
    static long liveHandles() {
        try {
            return (long) lib().liveHandles.invokeExact();
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    static String version() {
        try {
            MemorySegment p = (MemorySegment) lib().version.invokeExact();
            return p.reinterpret(Long.MAX_VALUE).getString(0);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** Checks a string argument before the call, so the error is thrown on the caller's thread. */
    static String checkedArg(String s, String param) {
        if (s != null && s.indexOf('\0') >= 0) {
            throw ErrorInfo.local(ErrorKind.INVALID_ARGUMENT, "invalid_argument", param,
                    "invalid argument: " + param + " contains a NUL character").toException();
        }
        if (s == null) {
            throw ErrorInfo.local(ErrorKind.INVALID_ARGUMENT, "invalid_argument", param,
                    "invalid argument: " + param + " must not be null").toException();
        }
        return s;
    }

    static String toJson(Object value, String param) {
        try {
            return checkedArg(JSON.writeValueAsString(value), param);
        } catch (JsonProcessingException e) {
            throw ErrorInfo.local(ErrorKind.INVALID_ARGUMENT, "invalid_argument", param,
                    "invalid argument: " + param + " cannot be encoded as JSON: " + e.getOriginalMessage()).toException();
        }
    }

    static <T> T fromJson(String json, Class<T> type) {
        return fromJson(json, JSON.constructType(type));
    }

    static <T> T fromJson(String json, JavaType type) {
        try {
            return JSON.readValue(json, type);
        } catch (JsonProcessingException e) {
            throw ErrorInfo.local(ErrorKind.PROTOCOL, "undecodable_result", null,
                    "protocol error: the SDK returned JSON this binding cannot read: " + e.getOriginalMessage()).toException();
        }
    }
}
