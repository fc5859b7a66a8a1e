package com.inferencekey;

import java.lang.foreign.MemorySegment;

/** A streamed chat completion: {@link TextChunk}s until the server's {@code [DONE]}. */
public final class TextStream extends NativeStream<TextChunk> {
    TextStream(MemorySegment ptr) { super(ptr, TextChunk.class); }
}
