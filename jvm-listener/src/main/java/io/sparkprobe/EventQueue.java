package io.sparkprobe;

import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.locks.LockSupport;

/**
 * Bounded lock-free queue: any number of producers, one consumer (the sender thread). Elements are
 * wire lines ({@code String}) or events still to encode ({@link Captured}).
 *
 * <p>Why not ArrayBlockingQueue: its single lock is held by the consumer while it drains, so the
 * listener-bus thread parks on every contended offer; measured on 2 cores that cut the on* path from
 * millions to a few hundred thousand events per second. Here an offer is a CAS on the head index and
 * a store into the slot; it never blocks. The consumer parks only when the queue is empty, for a
 * bounded time (the sender's poll period), and a producer pays for an unpark (a system call, and on
 * a busy machine a context switch onto the listener bus's own core) only once a backlog has built
 * up: measured on Spark's bus, unparking on every offer cost ~25 µs/event.
 */
final class EventQueue {
    private final AtomicReferenceArray<Object> slots;
    private final int mask;
    private final int capacity;
    /** Next index producers claim (CAS). */
    private final AtomicLong head = new AtomicLong();
    /** Next index the consumer reads; written only by the consumer. */
    private volatile long tail;
    private volatile boolean parked;
    private volatile Thread consumer;
    /** Backlog at which a producer wakes a parked consumer; below it the consumer's poll picks it up. */
    private final int wakeBacklog;

    EventQueue(int capacity) {
        int size = Integer.highestOneBit(Math.max(2, capacity - 1)) << 1; // power of two >= capacity
        this.slots = new AtomicReferenceArray<Object>(size);
        this.mask = size - 1;
        this.capacity = capacity;
        this.wakeBacklog = Math.max(1, Math.min(512, capacity / 8));
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

    /** Moves up to {@code max} queued elements into {@code out}; never blocks. Consumer thread only. */
    int drainTo(List<Object> out, int max) {
        long t = tail;
        int n = 0;
        while (n < max) {
            int i = (int) t & mask;
            Object e = slots.get(i);
            if (e == null) {
                if (t == head.get()) {
                    break; // empty
                }
                Thread.yield(); // a producer claimed the slot and is about to fill it
                continue;
            }
            slots.lazySet(i, null);
            out.add(e);
            t++;
            n++;
        }
        if (n > 0) {
            tail = t;
        }
        return n;
    }

    boolean isEmpty() {
        return head.get() == tail;
    }

    /** Parks the consumer until an offer, {@link #wake} or the timeout. Consumer thread only. */
    void await(long nanos) {
        consumer = Thread.currentThread();
        parked = true;
        try {
            if (isEmpty()) {
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
