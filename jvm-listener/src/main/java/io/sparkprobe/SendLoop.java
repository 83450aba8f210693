package io.sparkprobe;

import java.io.IOException;
import java.io.Writer;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the sender thread does on an accepted connection: write the preamble, then drain the queue,
 * encode {@link Captured} events, write lines, flush and send periodic stats until closing
 * ({@link #stream}). Lines taken from the queue but not written because the agent went away are kept
 * and sent after the next hello; whatever is lost is counted as dropped.
 *
 * <p>Single consumer: the sender thread, or the benchmark's drainer ({@link #drainQueued}) when the
 * thread is not started.
 */
final class SendLoop {
    private static final Logger LOG = LoggerFactory.getLogger(SendLoop.class);
    private static final int BATCH = 1024;
    private static final int FLUSH_EVERY = 8192;
    private static final long IDLE_CHECK_NANOS = TimeUnit.MILLISECONDS.toNanos(50);
    /** After an idle park, let events gather this long before draining: bounds wake-ups (and writes) to ~1000/s. */
    private static final long LINGER_NANOS = TimeUnit.MILLISECONDS.toNanos(1);
    /**
     * Longest the sender sleeps with an empty queue: events below the wake-up backlog wait at most this.
     * At a job's usual few hundred events/s, 5 ms woke the sender (and the agent) for one or two events
     * each time: 64 µs of sender CPU per event, against 17 µs at 50 ms (docs/benchmarks.md). No figure
     * depends on arrival time, and no scrape interval can see 50 ms.
     */
    private static final long POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(50);

    private final Sender sender;
    private final EventQueue queue;
    private final long statsIntervalNanos;
    /** Lines taken from the queue but not written because the agent was gone; sent after the next hello. */
    private final List<Object> carry = new ArrayList<Object>();
    private boolean warnedEncode;

    SendLoop(Sender sender) {
        this.sender = sender;
        this.queue = sender.queue;
        this.statsIntervalNanos = TimeUnit.MILLISECONDS.toNanos(sender.cfg.statsIntervalMs);
    }

    /** Sends the connect preamble, then queued lines and periodic stats until closing. */
    void stream(Socket s, Writer out) throws IOException {
        Preamble.Sent preamble = sender.preamble.snapshot();
        for (String line : preamble.lines()) {
            writeLine(out, line);
        }
        writeLine(out, sender.statsLine());
        for (Object item : carry) { // taken from the queue but held back when the last agent went away
            writeItem(out, item, preamble);
        }
        out.flush();
        carry.clear();

        List<Object> batch = new ArrayList<Object>(BATCH);
        long atRisk = 0; // lines taken from the queue since the last explicit flush
        boolean dirty = false; // written since the last flush
        long lastWrite = System.nanoTime();
        long nextStats = lastWrite + statsIntervalNanos;
        try {
            while (!sender.stopped) {
                boolean last = sender.closing; // read before draining: an event offered before close() is seen
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
                        writeItem(out, batch.get(i), preamble);
                    }
                    batch.clear();
                    atRisk += n;
                    dirty = true;
                    lastWrite = System.nanoTime();
                }
                if (System.nanoTime() - nextStats >= 0) {
                    writeLine(out, sender.statsLine());
                    dirty = true;
                    lastWrite = System.nanoTime();
                    nextStats = lastWrite + statsIntervalNanos;
                }
                if (n < BATCH) { // the queue was empty at the end of this drain
                    if (last) {
                        writeLine(out, sender.statsLine()); // final counters, so the agent sees the whole run
                        out.flush();
                        return;
                    }
                    if (dirty) {
                        out.flush(); // flush when the queue is momentarily empty
                        dirty = false;
                        atRisk = 0;
                    }
                    long wait = Math.min(nextStats - System.nanoTime(), POLL_NANOS);
                    if (wait > 0 && !sender.closing) {
                        queue.await(wait);
                        if (!sender.closing && !sender.stopped) {
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
            sender.dropped.addAndGet(atRisk);
            throw e;
        }
    }

    /** Writes one queued event, unless the preamble of this connection already carried that very line. */
    private void writeItem(Writer out, Object item, Preamble.Sent preamble) throws IOException {
        if (item instanceof Captured) {
            String line = encode(item);
            if (line != null) {
                writeLine(out, line);
            }
            return;
        }
        String line = (String) item;
        if (!preamble.alreadySent(line)) {
            writeLine(out, line);
        }
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
            sender.dropped.incrementAndGet();
            if (!warnedEncode) {
                warnedEncode = true;
                LOG.warn("sparkprobe: could not encode an event (dropped and counted; further ones not logged)", t);
            }
            return null;
        }
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

    /** Whatever was not sent never will be: count it, so the totals stay honest. Sender thread only. */
    void dropLeftovers() {
        List<Object> rest = new ArrayList<Object>();
        while (queue.drainTo(rest, BATCH) > 0) {
            sender.dropped.addAndGet(rest.size());
            rest.clear();
        }
        sender.dropped.addAndGet(carry.size());
        carry.clear();
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
}
