package io.sparkprobe;

import java.net.Socket;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The front of the path to the agent: what the listener-bus thread calls, the counters that reach the
 * agent in {@code listener_stats}, and the life of the sender thread.
 *
 * <p>{@link #offer} is the only method the bus thread calls per event: a lock-free queue offer
 * ({@link EventQueue}) and a few counter updates. Everything that can block (connect, handshake,
 * writes, backoff) happens on the sender thread ({@link Connector}, then {@link SendLoop} on each
 * accepted connection), so an absent or slow agent costs the application nothing but dropped events.
 * The lines repeated after each hello are kept in the {@link Preamble}.
 */
final class Sender {
    private static final Logger LOG = LoggerFactory.getLogger(Sender.class);
    static final String LISTENER_VERSION = "0.1.0";
    static final int WIRE_VERSION = 1;

    final ProbeConfig cfg;
    final EventQueue queue;
    final Preamble preamble = new Preamble();
    private final SendLoop loop;

    final AtomicLong offered = new AtomicLong();
    final AtomicLong dropped = new AtomicLong();
    final AtomicLong processingNanos = new AtomicLong();
    final AtomicLong reconnects = new AtomicLong();

    /** The app id for the hello; the sender does not connect before it is known. */
    volatile String appId;
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
     * Non-blocking: queues the event (a wire line, or a {@link Captured} event the sender thread encodes)
     * or counts it as dropped. Safe from any thread.
     */
    void offer(Object event) {
        offered.incrementAndGet();
        boolean open = !closing && !stopped && cfg.host != null;
        if (open && queue.offer(event)) {
            return;
        }
        dropped.incrementAndGet();
        if (open && warnedFull.compareAndSet(false, true)) {
            LOG.warn("sparkprobe: event queue full ({} events, agent {} slow or absent); dropping and counting events",
                    cfg.queueCapacity, cfg.endpoint);
        }
    }

    void setAppId(String id) {
        if (id != null && !id.isEmpty() && appId == null) {
            appId = id;
        }
    }

    /** Remembers the app_start line to repeat after each hello ({@link Preamble}), and queues it. */
    void appStart(String line) {
        offer(preamble.appStart(line));
    }

    /** The same for the conf line ({@code enqueue=false} only remembers it, for the constructor). */
    void conf(String line, boolean enqueue) {
        line = preamble.conf(line);
        if (enqueue) {
            offer(line);
        }
    }

    /** Remembers the executor's add line until it is removed ({@link Preamble}), and queues it. */
    void executorAdded(String execId, String line) {
        preamble.executorAdded(execId, line);
        offer(line);
    }

    /** Forgets the executor (no longer repeated after a hello) and queues its removal line. */
    void executorRemoved(String execId, String line) {
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
            closing = true;
        }
        if (t == null) {
            return; // never started (no valid endpoint): every offer was already counted as dropped
        }
        queue.wake();
        if ((everConnected || !firstAttemptDone) && timeoutMs > 0) {
            join(t, timeoutMs);
        }
        stopped = true;
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

    /** Benchmark hook, when the thread is not started: see {@link SendLoop#drainQueued}. */
    int drainQueued(List<String> out, int max) {
        return loop.drainQueued(out, max);
    }

    boolean isConnected() {
        return connected;
    }

    String statsLine() {
        return Wire.listenerStats(offered.get(), dropped.get(), processingNanos.get(), reconnects.get());
    }
}
