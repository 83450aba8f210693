package io.sparkprobe;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongFieldUpdater;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.locks.LockSupport;

/**
 * Bounded lock-free queue: any number of producers, one consumer (the sender thread). Elements are
 * wire lines ({@code byte[]}) or events still to encode ({@link Captured}).
 *
 * <p>Why not ArrayBlockingQueue: its single lock is held by the consumer while it drains, so the
 * listener-bus thread parks on every contended offer; measured on 2 cores that cut the on* path from
 * millions to a few hundred thousand events per second. Here an offer is a CAS on the head index and
 * a store into the slot; it never blocks. The consumer parks when the queue is empty, for a bounded
 * time (the sender's poll period, 1 s), and a producer pays for an unpark (a system call, and on a
 * busy machine a context switch onto the listener bus's own core) only once a quarter of the queue
 * is waiting, which at a job's usual rates never happens: measured on Spark's bus, unparking on every
 * offer cost ~25 µs/event, and a wake-up every 512 events still showed in the tiny-task job.
 */
final class EventQueue {
    private final AtomicReferenceArray<Object> slots;
    private final int mask;
    private final int capacity;
    /** Next index producers claim (CAS). */
    private final AtomicLong head = new AtomicLong();
    /** Next index the consumer reads; written only by the consumer ({@link #TAIL}). */
    private volatile long tail;
    private static final AtomicLongFieldUpdater<EventQueue> TAIL =
            AtomicLongFieldUpdater.newUpdater(EventQueue.class, "tail");
    private volatile boolean parked;
    private volatile Thread consumer;
    /**
     * Below this backlog a task end's metrics are read by the sender, not the bus thread
     * ({@link Captured}): at most this many task ends hold Spark's {@code TaskMetrics} (a few KB
     * each) in the queue.
     */
    static final int DEFER_BACKLOG = 1024;
    /**
     * Backlog at which a producer wakes a parked consumer (a quarter of the queue when that is less);
     * below it the consumer's poll picks it up. At a job's usual rates the poll comes first; at 100,000
     * events/s this wakes the sender every 10 ms, which keeps the queue far from full. It is
     * {@link #DEFER_BACKLOG}, so that a fast job's task ends stay below that between wake-ups.
     */
    static final int WAKE_BACKLOG = DEFER_BACKLOG;
    private final int wakeBacklog;

    EventQueue(int capacity) {
        int size = Integer.highestOneBit(Math.max(2, capacity - 1)) << 1; // power of two >= capacity
        this.slots = new AtomicReferenceArray<Object>(size);
        this.mask = size - 1;
        this.capacity = capacity;
        this.wakeBacklog = Math.max(1, Math.min(capacity / 4, WAKE_BACKLOG));
    }

    /** Non-blocking; false when full. Any thread. */
    boolean offer(Object e) {
        long h;
        do {
            h = head.get();
            if (h - tail >= capacity) {
                return false;
            }
        } while (!head.compareAndSet(h, h + 1));
        slots.lazySet((int) h & mask, e);
        // Below the backlog threshold no wake-up is sent: the consumer's bounded park (the sender's
        // poll period) picks the event up. At the threshold, the CAS above and this read pair with
        // the consumer's write of `parked` and its re-read of `head` in await(), so the wake-up that
        // matters is never lost.
        if (parked && h + 1 - tail >= wakeBacklog) {
            Thread c = consumer;
            if (c != null) {
                LockSupport.unpark(c);
            }
        }
        return true;
    }

    /** The oldest queued element, removed; null when the queue is empty. Never blocks. Consumer thread only. */
    Object poll() {
        long t = tail;
        int i = (int) t & mask;
        Object e = slots.get(i);
        while (e == null) {
            if (t == head.get()) {
                return null; // empty
            }
            Thread.yield(); // a producer claimed the slot and is about to fill it
            e = slots.get(i);
        }
        slots.lazySet(i, null);
        TAIL.lazySet(this, t + 1); // an ordered store: producers see the freed slot, no fence needed here
        return e;
    }

    /** Events offered and not yet taken: exact for the one producer Spark's bus is, an estimate otherwise. */
    long backlog() {
        return head.get() - tail;
    }

    /** Elements ever accepted (the producers' claimed indexes): exact, from any thread. */
    long accepted() {
        return head.get();
    }

    /**
     * Parks the consumer until the backlog reaches the wake-up threshold, {@link #wake} or the timeout;
     * returns at once when it already has. Events that arrive meanwhile below the threshold wait for
     * the timeout: a consumer that went back for every straggler would write a few events at a time.
     * Consumer thread only.
     */
    void await(long nanos) {
        consumer = Thread.currentThread();
        parked = true; // before reading head: pairs with the producer's CAS, then its read of parked
        try {
            if (head.get() - tail < wakeBacklog) {
                LockSupport.parkNanos(this, nanos);
            }
        } finally {
            parked = false;
        }
    }

    void wake() {
        Thread c = consumer;
        if (c != null) {
            LockSupport.unpark(c);
        }
    }
}
