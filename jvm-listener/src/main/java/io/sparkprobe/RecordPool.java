package io.sparkprobe;

import java.util.concurrent.atomic.AtomicLongFieldUpdater;
import java.util.concurrent.atomic.AtomicReferenceFieldUpdater;

/**
 * {@link Captured} records the sender thread has encoded, handed back for the bus thread to fill
 * again, so that capturing an event allocates nothing.
 *
 * <p>A bounded single-producer, single-consumer ring: the sender thread {@link #give}s records back,
 * one thread takes them ({@link #take}), with ordered stores only (no atomic instruction on either
 * side). The taking thread is the first that asks, which is Spark's listener-bus thread: it alone
 * calls a listener's {@code on*} methods. Any other thread gets a new record, as does the bus thread
 * when the pool is empty (a backlog larger than the pool); records that find the pool full are left
 * to the GC. Memory is thus bounded by the pool ({@link #SIZE} records of about 200 bytes) on top of
 * what the queue holds.
 */
final class RecordPool {
    /** Records kept for reuse: more than the sender takes off the queue between two wake-ups at a job's usual rates. */
    static final int SIZE = 8192;

    private final Captured[] ring = new Captured[SIZE];
    /** The thread that takes records; set once, by the first that asks ({@link #OWNER}). */
    private volatile Thread owner;
    /** Next slot {@link #give} fills; written by the sender thread only. */
    private volatile long put;
    /** Next slot {@link #take} empties; written by the owner thread only. */
    private volatile long took;
    private static final AtomicLongFieldUpdater<RecordPool> PUT = AtomicLongFieldUpdater.newUpdater(RecordPool.class, "put");
    private static final AtomicLongFieldUpdater<RecordPool> TOOK =
            AtomicLongFieldUpdater.newUpdater(RecordPool.class, "took");
    private static final AtomicReferenceFieldUpdater<RecordPool, Thread> OWNER =
            AtomicReferenceFieldUpdater.newUpdater(RecordPool.class, Thread.class, "owner");

    /** A record to fill: a reused one on the owner thread while the pool has any, else a new one. */
    Captured take() {
        Thread me = Thread.currentThread();
        Thread o = owner;
        if (o != me && (o != null || !OWNER.compareAndSet(this, null, me))) {
            return new Captured();
        }
        long t = took;
        if (t == put) {
            return new Captured(); // empty
        }
        int i = (int) t & (SIZE - 1);
        Captured r = ring[i];
        ring[i] = null;
        TOOK.lazySet(this, t + 1);
        return r;
    }

    /** Hands an encoded record back (it must not be used afterwards). Sender thread only. */
    void give(Captured r) {
        r.clear();
        long p = put;
        if (p - took >= SIZE) {
            return; // full: let the GC have it
        }
        ring[(int) p & (SIZE - 1)] = r;
        PUT.lazySet(this, p + 1);
    }
}
