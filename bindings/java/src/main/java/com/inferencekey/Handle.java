package com.inferencekey;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.ref.Cleaner;
import java.lang.ref.Reference;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Function;

/**
 * One native handle, freed exactly once: by {@link #close()}, or by a {@link Cleaner} when its
 * owner was forgotten. Calls hold a read lock and {@code close} the write lock, so a handle is
 * never freed while a call on another thread still uses it (in C that would be the caller's
 * use-after-free; here {@code close} waits for the call to finish).
 */
final class Handle {
    private static final Cleaner CLEANER = Cleaner.create(
            Thread.ofPlatform().daemon().name("inferencekey-cleaner").factory());

    private final String what;
    private final MemorySegment ptr;
    private final Cleaner.Cleanable cleanable;
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private boolean closed;

    /** Frees the pointer once; holds no reference to the Handle, so the Cleaner can run. */
    private record Freer(String what, MemorySegment ptr, MethodHandle free, AtomicBoolean done) implements Runnable {
        @Override
        public void run() {
            if (!done.compareAndSet(false, true)) return;
            try {
                free.invokeExact(ptr);
            } catch (Throwable t) {
                throw new IllegalStateException("freeing a " + what + " failed", t);
            } finally {
                NativeHandles.freed(what);
            }
        }
    }

    Handle(String what, MemorySegment ptr, MethodHandle free) {
        this.what = what;
        this.ptr = ptr;
        NativeHandles.opened(what);
        this.cleanable = CLEANER.register(this, new Freer(what, ptr, free, new AtomicBoolean()));
    }

    /** Runs {@code f} with the live pointer; a closed handle is an {@link InvalidArgumentException}. */
    <T> T use(Function<MemorySegment, T> f) {
        lock.readLock().lock();
        try {
            if (closed) {
                throw ErrorInfo.local(ErrorKind.INVALID_ARGUMENT, "closed", null,
                        "invalid argument: this " + what + " is closed").toException();
            }
            return f.apply(ptr);
        } finally {
            lock.readLock().unlock();
            // The Cleaner must not free the pointer while the call above still uses it.
            Reference.reachabilityFence(this);
        }
    }

    boolean isClosed() {
        lock.readLock().lock();
        try {
            return closed;
        } finally {
            lock.readLock().unlock();
        }
    }

    /** Frees the handle; later calls fail, a second close does nothing. */
    void close() {
        lock.writeLock().lock();
        try {
            if (closed) return;
            closed = true;
            cleanable.clean();
        } finally {
            lock.writeLock().unlock();
        }
    }
}
