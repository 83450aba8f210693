package io.sparkprobe;

import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongFieldUpdater;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The front of the path to the agent: what the listener-bus thread calls, the counters that reach the
 * agent in {@code listener_stats}, and the life of the sender thread.
 *
 * <p>{@link #offer} is the only method the bus thread calls per event: a lock-free queue offer
 * ({@link EventQueue}), no counter of its own. Everything that can block (connect, handshake,
 * writes, backoff) happens on the sender thread ({@link Connector}, then {@link SendLoop} on each
 * accepted connection), so an absent or slow agent costs the application nothing but dropped events.
 * The lines repeated after each hello are kept in the {@link Preamble}.
 */
final class Sender {
    private static final Logger LOG = LoggerFactory.getLogger(Sender.class);
    /** The package's version (src/sparkprobe/_version.py, through the generated {@code BuildInfo}). */
    static final String LISTENER_VERSION = BuildInfo.VERSION;
    static final int WIRE_VERSION = 1;

    final ProbeConfig cfg;
    final EventQueue queue;
    final Preamble preamble = new Preamble();
    /** Captured records for the bus thread to fill, handed back by the sender once encoded. */
    final RecordPool records = new RecordPool();
    private final SendLoop loop;

    // Counters sent in listener_stats. Offered = accepted by the queue (its own count) + refused, so an
    // offer touches no counter of its own; dropped = refused + lost.
    /** Events refused: the queue full, or the listener closing, stopped or without an endpoint. */
    private final AtomicLong refused = new AtomicLong();
    /** Events taken from the queue and lost: with a broken connection, by a failed encoding, or left at the end. */
    final AtomicLong lost = new AtomicLong();
    final AtomicLong reconnects = new AtomicLong();
    /** Nanoseconds spent in the listener's {@code on*} methods; one writer ({@link #addProcessingNanos}). */
    private volatile long processingNanos;
    private static final AtomicLongFieldUpdater<Sender> PROCESSING =
            AtomicLongFieldUpdater.newUpdater(Sender.class, "processingNanos");

    /** The app id for the hello; the sender does not connect before it is known. */
    volatile String appId;
    /** False once closing or stopped, and without a valid endpoint: offers are then refused. */
    private volatile boolean accepting;
    volatile boolean closing;
    volatile boolean stopped;
    // Written by the sender thread (Connector), read by close() and isConnected().
    volatile boolean connected;
    volatile boolean everConnected;
    /** Set once the first connection attempt has ended either way. */
    volatile boolean firstAttemptDone;
    volatile Socket socket;
    private final AtomicBoolean warnedFull = new AtomicBoolean();
    private Thread thread;

    Sender(ProbeConfig cfg) {
        this.cfg = cfg;
        this.queue = new EventQueue(cfg.queueCapacity);
        this.appId = cfg.appId.isEmpty() ? null : cfg.appId;
        this.accepting = cfg.host != null;
        this.loop = new SendLoop(this);
    }

    synchronized void start() {
        if (thread != null || cfg.host == null) {
            return;
        }
        thread = new Thread(new Connector(this, loop), "sparkprobe-sender");
        thread.setDaemon(true);
        thread.start();
    }

    /**
     * Non-blocking: queues the event (a wire line's bytes, or a {@link Captured} event the sender thread encodes)
     * or counts it as dropped. Safe from any thread.
     */
    void offer(Object event) {
        if (accepting && queue.offer(event)) {
            return;
        }
        refused.incrementAndGet();
        if (accepting && warnedFull.compareAndSet(false, true)) {
            LOG.warn("sparkprobe: event queue full ({} events, agent {} slow or absent); dropping and counting events",
                    cfg.queueCapacity, cfg.endpoint);
        }
    }

    /**
     * Adds the time of one {@code on*} call. A plain read and an ordered store, no atomic instruction:
     * Spark calls a listener from its queue's one thread, the only writer. (Were two threads ever to
     * call at once, the self-reported {@code processing_ns} could miss some time; nothing else
     * depends on it.)
     */
    void addProcessingNanos(long nanos) {
        PROCESSING.lazySet(this, processingNanos + nanos);
    }

    /** Stops the sender for good (an internal error): offers are refused and counted from now on. */
    void halt() {
        accepting = false;
        stopped = true;
    }

    /** An empty {@link Captured} record to fill and {@link #offer}; reused, so the bus thread allocates nothing. */
    Captured record() {
        return records.take();
    }

    /** Whether a task end's metrics may be read later, by the sender: the queue is short ({@link Captured}). */
    boolean deferReads() {
        return queue.backlog() < EventQueue.DEFER_BACKLOG;
    }

    void setAppId(String id) {
        if (id != null && !id.isEmpty() && appId == null) {
            appId = id;
        }
    }

    /** Remembers the app_start line to repeat after each hello ({@link Preamble}), and queues it. */
    void appStart(byte[] line) {
        offer(preamble.appStart(line));
    }

    /** The same for the conf line ({@code enqueue=false} only remembers it, for the constructor). */
    void conf(byte[] line, boolean enqueue) {
        line = preamble.conf(line);
        if (enqueue) {
            offer(line);
        }
    }

    /** Remembers the executor's add line until it is removed ({@link Preamble}), and queues it. */
    void executorAdded(String execId, byte[] line) {
        preamble.executorAdded(execId, line);
        offer(line);
    }

    /** Remembers a resource profile's line (repeated after each hello, {@link Preamble}), and queues it. */
    void resourceProfileAdded(int profileId, byte[] line) {
        offer(preamble.resourceProfileAdded(profileId, line));
    }

    /** Remembers an open Spark Connect session (repeated after each hello until it closes), and queues its line. */
    void sessionStarted(String sessionId, byte[] line) {
        preamble.sessionStarted(sessionId, line);
        offer(line);
    }

    /** Forgets the session and queues its closing line. */
    void sessionClosed(String sessionId, byte[] line) {
        preamble.sessionClosed(sessionId);
        offer(line);
    }

    /** Remembers that the app is a Spark Connect server (repeated after each hello), and queues the line. */
    void connectServerStarted(byte[] line) {
        offer(preamble.connectServerStarted(line));
    }

    /** Forgets the executor (no longer repeated after a hello) and queues its removal line. */
    void executorRemoved(String execId, byte[] line) {
        preamble.executorRemoved(execId);
        offer(line);
    }

    /**
     * Stops the sender after waiting at most {@code timeoutMs} for the queue to reach the agent.
     * Does not wait when the first connection attempt already failed and none succeeded since: then
     * nothing could be delivered anyway, and an application without an agent must end promptly.
     */
    void close(long timeoutMs) {
        Thread t;
        synchronized (this) {
            t = thread;
            accepting = false;
            closing = true;
        }
        if (t == null) {
            return; // never started (no valid endpoint): every offer was already counted as dropped
        }
        queue.wake();
        if ((everConnected || !firstAttemptDone) && timeoutMs > 0) {
            join(t, timeoutMs);
        }
        halt();
        t.interrupt();
        Connector.closeQuietly(socket); // unblocks a write to an agent that stopped reading
        join(t, 200); // the thread counts what is left, so the counters are final when close returns
    }

    private static void join(Thread t, long ms) {
        try {
            t.join(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Benchmark and test hook, when the thread is not started: see {@link SendLoop#drainQueued}. */
    int drainQueued(OutputStream sink, int max) throws IOException {
        return loop.drainQueued(sink, max);
    }

    boolean isConnected() {
        return connected;
    }

    /** Events offered so far (accepted or refused). */
    long offeredEvents() {
        return queue.accepted() + refused.get();
    }

    /** Events refused, plus those lost with a broken connection, by a failed encoding or left at the end. */
    long droppedEvents() {
        return refused.get() + lost.get();
    }

    /** Nanoseconds the bus thread spent inside the listener's {@code on*} methods so far. */
    long processingNanos() {
        return processingNanos;
    }
}
