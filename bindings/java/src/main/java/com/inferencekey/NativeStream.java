package com.inferencekey;

import java.lang.foreign.MemorySegment;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.Spliterator;
import java.util.Spliterators;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;

/**
 * A pull stream over {@code ik_stream_next}: an {@link Iterator} that is {@link AutoCloseable}.
 * Closing it (or the {@link Stream} from {@link #stream()}) before the end closes the
 * connection; reaching the end or an error closes it too. A stream cut short by the server is a
 * {@link ProtocolException} from {@link #hasNext()}, never a silent end.
 *
 * <pre>{@code
 * try (TextStream s = ep.generateTextStream(TextRequest.of("Hola"))) {
 *     s.forEachRemaining(c -> System.out.print(c.text()));
 * }
 * }</pre>
 */
public class NativeStream<T> implements Iterator<T>, AutoCloseable {
    private final Handle handle;
    private final Class<T> type;
    private T next;
    private boolean ended;

    NativeStream(MemorySegment ptr, Class<T> type) {
        this.handle = new Handle("stream", ptr, Abi.lib().streamFree);
        this.type = type;
    }

    @Override
    public boolean hasNext() {
        if (next != null) return true;
        if (ended) return false;
        String json;
        try {
            json = handle.use(p -> Abi.runString((l, arena, out) -> (int) l.streamNext.invokeExact(p, out)));
        } catch (InferenceKeyException e) {
            close();
            throw e;
        }
        if (json == null) {
            close();
            return false;
        }
        next = Abi.fromJson(json, type);
        return true;
    }

    @Override
    public T next() {
        if (!hasNext()) throw new NoSuchElementException("the stream has ended");
        T item = next;
        next = null;
        return item;
    }

    /** The rest of the stream as a {@link Stream}; closing that closes this. */
    public Stream<T> stream() {
        return StreamSupport.stream(Spliterators.spliteratorUnknownSize(this, Spliterator.ORDERED | Spliterator.NONNULL), false)
                .onClose(this::close);
    }

    /** True once closed, by {@link #close()}, the end of the stream or an error. */
    public boolean isClosed() { return handle.isClosed(); }

    /** Closes the stream and its connection; idempotent. Later {@link #hasNext()} is false. */
    @Override
    public void close() {
        ended = true;
        next = null;
        handle.close();
    }
}
