package io.sparkprobe;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The bounded queue between Spark's listener bus and the agent, and the daemon thread that drains it.
 *
 * <p>{@link #offer} is the only method the bus thread calls: a lock-free queue offer ({@link EventQueue})
 * and a few counter updates. Everything that can block (connect, handshake, writes, backoff) happens on the
 * sender thread, so an absent or slow agent costs the application nothing but dropped events.
 */
final class Sender implements Runnable {
    private static final Logger LOG = LoggerFactory.getLogger(Sender.class);
    static final String LISTENER_VERSION = "0.1.0";
    static final int WIRE_VERSION = 1;
    private static final long INITIAL_BACKOFF_MS = 100;
    private static final int BATCH = 1024;
    private static final int FLUSH_EVERY = 8192;
    private static final long IDLE_CHECK_NANOS = TimeUnit.MILLISECONDS.toNanos(50);
    private static final int MAX_REPLY_CHARS = 64 * 1024;
    /** After an idle park, let events gather this long before draining: bounds wake-ups (and writes) to ~1000/s. */
    private static final long LINGER_NANOS = TimeUnit.MILLISECONDS.toNanos(1);
    /**
     * Longest the sender sleeps with an empty queue: events below the wake-up backlog wait at most this.
     * At a job's usual few hundred events/s, 5 ms woke the sender (and the agent) for one or two events
     * each time: 64 µs of sender CPU per event, against 17 µs at 50 ms (docs/benchmarks.md). No figure
     * depends on arrival time, and no scrape interval can see 50 ms.
     */
    private static final long POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(50);
    private static final Pattern OK_TRUE = Pattern.compile("\"ok\"\\s*:\\s*true");
    private static final Pattern ERROR = Pattern.compile("\"error\"\\s*:\\s*\"((?:[^\"\\\\]|\\\\.)*)\"");
    /** How every executor_added line starts (Wire.executorAdded): a cheap test before the identity lookup. */
    private static final String EXECUTOR_ADDED_PREFIX = "{\"k\":\"executor_added\"";

    private final ProbeConfig cfg;
    private final EventQueue queue;
    /** Lines taken from the queue but not written because the agent was gone; sent after the next hello. */
    private final List<Object> carry = new ArrayList<Object>();

    final AtomicLong offered = new AtomicLong();
    final AtomicLong dropped = new AtomicLong();
    final AtomicLong processingNanos = new AtomicLong();
    final AtomicLong reconnects = new AtomicLong();

    /** The app id for the hello; the sender does not connect before it is known. */
    private volatile String appId;
    /** Sent right after every accepted hello (the agent may be new); null until known. */
    private volatile String appStartLine;
    private volatile String confLine;
    /**
     * The executor_added line of every live executor (executor id → line, in the order they came),
     * repeated after each hello so that an agent restarted mid-app knows the executors it missed.
     * Written on the bus thread (an executor added or removed is a rare event; the lock is uncontended
     * but for the sender's copy at each hello), read by the sender thread.
     */
    private final Map<String, String> liveExecutors = new LinkedHashMap<String, String>();

    private volatile boolean closing;
    private volatile boolean stopped;
    private volatile boolean connected;
    private volatile boolean everConnected;
    /** Set once the first connection attempt has ended either way. */
    private volatile boolean firstAttemptDone;
    private volatile Socket socket;
    private final AtomicBoolean warnedFull = new AtomicBoolean();
    private boolean warnedUnreachable;
    private boolean warnedRejected;
    private boolean warnedEncode;
    private boolean warnedTls;
    /** Null unless {@code spark.sparkprobe.tls.enabled}; used on the sender thread only. */
    private final Tls tls;
    private Thread thread;

    Sender(ProbeConfig cfg) {
        this.cfg = cfg;
        this.queue = new EventQueue(cfg.queueCapacity);
        this.appId = cfg.appId.isEmpty() ? null : cfg.appId;
        this.tls = cfg.tlsEnabled ? new Tls(cfg) : null;
    }

    synchronized void start() {
        if (thread != null || cfg.host == null) {
            return;
        }
        thread = new Thread(this, "sparkprobe-sender");
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

    /**
     * Remembers the app_start line to repeat after each hello, and queues it for a live connection.
     * An equal line keeps the old instance: the sender skips queued lines identical to the preamble.
     */
    void appStart(String line) {
        String old = appStartLine;
        if (old != null && old.equals(line)) {
            line = old;
        }
        appStartLine = line;
        offer(line);
    }

    /** The same for the conf line ({@code enqueue=false} only remembers it, for the constructor). */
    void conf(String line, boolean enqueue) {
        String old = confLine;
        if (old != null && old.equals(line)) {
            line = old;
        }
        confLine = line;
        if (enqueue) {
            offer(line);
        }
    }

    /**
     * Remembers the executor's add line until it is removed, and queues it. The same instance is queued
     * and kept, so the sender can skip a queued copy of a line its preamble already carried.
     */
    void executorAdded(String execId, String line) {
        synchronized (liveExecutors) {
            liveExecutors.put(execId, line);
        }
        offer(line);
    }

    /** Forgets the executor (no longer repeated after a hello) and queues its removal line. */
    void executorRemoved(String execId, String line) {
        synchronized (liveExecutors) {
            liveExecutors.remove(execId);
        }
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
        closeQuietly(socket); // unblocks a write to an agent that stopped reading
        join(t, 200); // the thread counts what is left, so the counters are final when close returns
    }

    private static void join(Thread t, long ms) {
        try {
            t.join(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Whatever was not sent never will be: count it, so the totals stay honest. Sender thread only. */
    private void dropLeftovers() {
        List<Object> rest = new ArrayList<Object>();
        while (queue.drainTo(rest, BATCH) > 0) {
            dropped.addAndGet(rest.size());
            rest.clear();
        }
        dropped.addAndGet(carry.size());
        carry.clear();
    }

    /**
     * For the benchmark's own consumer when the thread is not started; single consumer only. Encodes
     * what it takes, as the sender thread does, so the benchmark pays the whole path.
     */
    int drainQueued(List<String> out, int max) {
        List<Object> items = new ArrayList<Object>(max);
        int n = queue.drainTo(items, max);
        for (Object item : items) {
            String line = encode(item);
            if (line != null) {
                out.add(line);
            }
        }
        return n;
    }

    /**
     * The wire text of a queued event: a line as is, a {@link Captured} event encoded now (sender
     * thread). An encoding failure, which would be a bug, drops that event (counted), never the sender.
     */
    private String encode(Object item) {
        if (!(item instanceof Captured)) {
            return (String) item;
        }
        try {
            return ((Captured) item).encode();
        } catch (Throwable t) {
            dropped.incrementAndGet();
            if (!warnedEncode) {
                warnedEncode = true;
                LOG.warn("sparkprobe: could not encode an event (dropped and counted; further ones not logged)", t);
            }
            return null;
        }
    }

    boolean isConnected() {
        return connected;
    }

    String statsLine() {
        return Wire.listenerStats(offered.get(), dropped.get(), processingNanos.get(), reconnects.get());
    }

    @Override
    public void run() {
        long backoff = INITIAL_BACKOFF_MS;
        while (!stopped) {
            if (appId == null) {
                if (closing) {
                    break;
                }
                sleep(50); // the hello needs the app id; onApplicationStart will bring it
                continue;
            }
            Socket raw = new Socket();
            socket = raw; // close() closes the TCP socket itself: never waits on the TLS layer's locks
            Socket s = raw;
            try {
                raw.connect(new InetSocketAddress(cfg.host, cfg.port), cfg.connectTimeoutMs);
                raw.setTcpNoDelay(true);
                raw.setSoTimeout(cfg.connectTimeoutMs); // bounds the TLS handshake and the hello reply
                if (tls != null) {
                    s = tls.handshake(raw);
                }
                Writer out = new BufferedWriter(
                        new OutputStreamWriter(s.getOutputStream(), StandardCharsets.UTF_8), 64 * 1024);
                String error = handshake(s, out);
                if (error != null) {
                    if (!warnedRejected) {
                        warnedRejected = true;
                        LOG.warn("sparkprobe: agent {} rejected the hello: {} (retrying with backoff)", cfg.endpoint, error);
                    }
                    throw new Rejected(error);
                }
                s.setSoTimeout(0);
                if (everConnected) {
                    reconnects.incrementAndGet();
                    LOG.info("sparkprobe: reconnected to agent {}", cfg.endpoint);
                } else {
                    LOG.info("sparkprobe: connected to agent {}", cfg.endpoint);
                }
                connected = true;
                everConnected = true;
                firstAttemptDone = true;
                backoff = INITIAL_BACKOFF_MS;
                stream(s, out);
                closeQuietly(s);
                break; // stream() returns only when closing
            } catch (IOException e) {
                connected = false;
                firstAttemptDone = true;
                closeQuietly(raw);
                if (stopped) {
                    break;
                }
                if (e instanceof Tls.Failure) {
                    if (!warnedTls) {
                        warnedTls = true;
                        LOG.warn("sparkprobe: TLS to agent {} failed: {}; retrying with backoff, events beyond {} "
                                + "queued are dropped and counted", cfg.endpoint, e.getMessage(), cfg.queueCapacity);
                    }
                } else if (!warnedUnreachable && !(e instanceof Rejected)) {
                    warnedUnreachable = true;
                    LOG.warn("sparkprobe: agent {} unavailable ({}); retrying in the background, events beyond {} "
                            + "queued are dropped and counted", cfg.endpoint, e.toString(), cfg.queueCapacity);
                }
                if (closing && !everConnected) {
                    break;
                }
                sleep(backoff);
                backoff = Math.min(backoff * 2, cfg.maxBackoffMs);
            } catch (Throwable t) {
                // Never let the sender die silently on a bug; the listener keeps counting drops.
                LOG.warn("sparkprobe: sender stopped on an internal error", t);
                stopped = true;
                closeQuietly(raw);
                break;
            }
        }
        connected = false;
        dropLeftovers();
    }

    /** Writes the hello and reads the one-line reply: null when accepted, else the agent's error. */
    private String handshake(Socket s, Writer out) throws IOException {
        out.write(Wire.hello(appId, cfg.token, LISTENER_VERSION, WIRE_VERSION));
        out.write('\n');
        out.flush();
        String reply = readLine(s.getInputStream());
        if (reply == null) {
            throw new IOException("agent closed the connection before replying to the hello"
                    + (tls == null ? " (if the agent serves TLS, set " + ProbeConfig.TLS_ENABLED + "=true)" : ""));
        }
        if (OK_TRUE.matcher(reply).find()) {
            return null;
        }
        Matcher m = ERROR.matcher(reply);
        return m.find() ? m.group(1) : reply;
    }

    /** Sends the connect preamble, then queued lines and periodic stats until closing. */
    private void stream(Socket s, Writer out) throws IOException {
        String sentAppStart = appStartLine;
        String sentConf = confLine;
        List<String> executors;
        synchronized (liveExecutors) {
            executors = new ArrayList<String>(liveExecutors.values());
        }
        if (sentAppStart != null) {
            writeLine(out, sentAppStart);
        }
        if (sentConf != null) {
            writeLine(out, sentConf);
        }
        // Queued copies of these exact instances are skipped below (an agent re-added a known executor
        // harmlessly, but there is no need to send it twice).
        Set<String> sentExecutors = Collections.newSetFromMap(new IdentityHashMap<String, Boolean>());
        for (String line : executors) {
            writeLine(out, line);
            sentExecutors.add(line);
        }
        writeLine(out, statsLine());
        for (Object item : carry) { // taken from the queue but held back when the last agent went away
            writeItem(out, item, sentAppStart, sentConf, sentExecutors);
        }
        out.flush();
        carry.clear();

        List<Object> batch = new ArrayList<Object>(BATCH);
        long atRisk = 0; // lines taken from the queue since the last explicit flush
        boolean dirty = false; // written since the last flush
        long lastWrite = System.nanoTime();
        long nextStats = lastWrite + TimeUnit.MILLISECONDS.toNanos(cfg.statsIntervalMs);
        try {
            while (!stopped) {
                boolean last = closing; // read before draining: an event offered before close() is seen
                int n = queue.drainTo(batch, BATCH);
                if (n > 0) {
                    // After a quiet spell, check that the agent is still there before writing: a
                    // stopped agent's socket accepts writes until the RST, and those would be lost.
                    if (System.nanoTime() - lastWrite > IDLE_CHECK_NANOS && peerClosed(s)) {
                        carry.addAll(batch);
                        batch.clear();
                        throw new IOException("agent closed the connection");
                    }
                    for (int i = 0; i < n; i++) {
                        writeItem(out, batch.get(i), sentAppStart, sentConf, sentExecutors);
                    }
                    batch.clear();
                    atRisk += n;
                    dirty = true;
                    lastWrite = System.nanoTime();
                }
                if (System.nanoTime() - nextStats >= 0) {
                    writeLine(out, statsLine());
                    dirty = true;
                    lastWrite = System.nanoTime();
                    nextStats = lastWrite + TimeUnit.MILLISECONDS.toNanos(cfg.statsIntervalMs);
                }
                if (n < BATCH) { // the queue was empty at the end of this drain
                    if (last) {
                        writeLine(out, statsLine()); // final counters, so the agent sees the whole run
                        out.flush();
                        return;
                    }
                    if (dirty) {
                        out.flush(); // flush when the queue is momentarily empty
                        dirty = false;
                        atRisk = 0;
                    }
                    long wait = Math.min(nextStats - System.nanoTime(), POLL_NANOS);
                    if (wait > 0 && !closing) {
                        queue.await(wait);
                        if (!closing && !stopped) {
                            LockSupport.parkNanos(LINGER_NANOS);
                        }
                    }
                } else if (atRisk >= FLUSH_EVERY) {
                    out.flush(); // under sustained load, bound what a broken connection can lose
                    dirty = false;
                    atRisk = 0;
                }
            }
        } catch (IOException e) {
            // Lines taken from the queue but perhaps never delivered: count them as dropped (honest).
            dropped.addAndGet(atRisk);
            throw e;
        }
    }

    /** Writes one queued event, unless the preamble of this connection already carried that very line. */
    private void writeItem(Writer out, Object item, String sentAppStart, String sentConf, Set<String> sentExecutors)
            throws IOException {
        if (item instanceof Captured) {
            String line = encode(item);
            if (line != null) {
                writeLine(out, line);
            }
            return;
        }
        String line = (String) item;
        if (line != sentAppStart && line != sentConf && !inPreamble(line, sentExecutors)) {
            writeLine(out, line);
        }
    }

    /** True (once) for a queued executor_added line that is the very instance the preamble sent. */
    private static boolean inPreamble(String line, Set<String> sentExecutors) {
        return !sentExecutors.isEmpty() && line.startsWith(EXECUTOR_ADDED_PREFIX) && sentExecutors.remove(line);
    }

    /** The agent answered the hello with an error (bad token, unsupported wire version...). */
    private static final class Rejected extends IOException {
        private static final long serialVersionUID = 1L;

        Rejected(String error) {
            super("agent rejected the hello: " + error);
        }
    }

    /** True when the agent has closed its end (it never sends anything after the hello reply). */
    private static boolean peerClosed(Socket s) {
        try {
            s.setSoTimeout(1);
            return s.getInputStream().read() == -1;
        } catch (java.net.SocketTimeoutException e) {
            return false; // nothing to read: the normal case
        } catch (IOException e) {
            return true;
        }
    }

    private static void writeLine(Writer out, String line) throws IOException {
        out.write(line);
        out.write('\n');
    }

    /** Reads one UTF-8 line (without the newline), bounded in length; null at end of stream. */
    private static String readLine(InputStream in) throws IOException {
        java.io.ByteArrayOutputStream buf = new java.io.ByteArrayOutputStream(64);
        int b;
        while ((b = in.read()) != -1) {
            if (b == '\n') {
                return new String(buf.toByteArray(), StandardCharsets.UTF_8);
            }
            if (buf.size() >= MAX_REPLY_CHARS) {
                throw new IOException("agent reply longer than " + MAX_REPLY_CHARS + " bytes");
            }
            buf.write(b);
        }
        return buf.size() > 0 ? new String(buf.toByteArray(), StandardCharsets.UTF_8) : null;
    }

    private void sleep(long ms) {
        long end = System.currentTimeMillis() + ms;
        long left;
        while (!stopped && (left = end - System.currentTimeMillis()) > 0) {
            try {
                Thread.sleep(Math.min(left, 50));
            } catch (InterruptedException e) {
                if (stopped) {
                    return;
                }
            }
        }
    }

    private static void closeQuietly(Socket s) {
        if (s != null) {
            try {
                s.close();
            } catch (IOException ignored) {
                // nothing left to do
            }
        }
    }
}
