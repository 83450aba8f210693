package io.sparkprobe;

import java.io.IOException;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the sender thread does on an accepted connection: write the preamble, then take events off
 * the queue, encode {@link Captured} events, write, and send periodic stats until closing
 * ({@link #stream}). Events taken from the queue but not written because the agent went away are
 * kept and sent after the next hello; whatever is lost is counted as dropped.
 *
 * <p>Every line is appended to one reused byte buffer ({@link JsonLine}: captured events are encoded
 * straight into it, rare events' lines are copied in) and the buffer goes to the socket in one write
 * when the queue is empty or when it holds {@link #WRITE_BYTES}. The thread wakes once per stats
 * interval (at most {@link #MAX_DELAY_NANOS}) or when a producer finds a large backlog
 * ({@link EventQueue}), so at a job's usual rates it pays one wake-up and one write per second, not
 * per event; whether the agent is still there it learns from a {@link PeerWatch}, not from a system
 * call of its own.
 *
 * <p>Single consumer: the sender thread, or the benchmark's drainer ({@link #drainQueued}) when the
 * thread is not started.
 */
final class SendLoop {
    private static final Logger LOG = LoggerFactory.getLogger(SendLoop.class);
    /** Events taken per round, between looks at the clock (stats) and at closing. */
    private static final int ROUND = 4096;
    /** The batch is written once it holds this much, even if the queue is not yet empty. */
    static final int WRITE_BYTES = 64 * 1024;
    /** A buffer grown past this by an unusually long line is given back after its write. */
    private static final int KEEP_BYTES = 256 * 1024;
    /**
     * Longest the sender sleeps with events in the queue below the wake-up backlog: an event reaches
     * the agent at most this late. Every wake-up costs the driver a context switch and a socket write
     * (tens of µs, more while that code is still interpreted); woken every 50 ms the sender took
     * 14-18 µs of CPU per event at a job's usual few hundred events/s (docs/benchmarks.md). No figure
     * depends on arrival time (all use event time) and no scrape interval is this short.
     */
    static final long MAX_DELAY_NANOS = TimeUnit.SECONDS.toNanos(1);

    private final Sender sender;
    private final EventQueue queue;
    private final long statsIntervalNanos;
    private final long pollNanos;
    /** Events taken from the queue but not written because the agent was gone; sent after the next hello. */
    private final List<Object> carry = new ArrayList<Object>();
    /** The bytes waiting for the next socket write. */
    private final JsonLine out = new JsonLine(WRITE_BYTES + 8 * 1024);
    /** The queued events whose lines are in {@link #out}: carried over if the agent is found gone before the write. */
    private final List<Object> pending = new ArrayList<Object>();
    private boolean warnedEncode;
    private boolean warnedStorage;
    /** Running tasks a replay repeats, at most this many (docs/wire-format.md). */
    static final int MAX_RUNNING = 200000;
    /** Task id → its task_start line, from its start to its end as written by this sender. */
    private final java.util.LinkedHashMap<Long, byte[]> running = new java.util.LinkedHashMap<Long, byte[]>();

    SendLoop(Sender sender) {
        this.sender = sender;
        this.queue = sender.queue;
        this.statsIntervalNanos = TimeUnit.MILLISECONDS.toNanos(sender.cfg.statsIntervalMs);
        this.pollNanos = Math.min(statsIntervalNanos, MAX_DELAY_NANOS);
    }

    /**
     * Sends the replay (docs/wire-format.md, "Replay"): replay_start, the preamble's lines, every block
     * manager and cached block of the driver's storage status, the task_start line of every running
     * task, replay_end; then queued events and periodic stats until closing. {@code resumed}: this
     * listener had sent events on an earlier connection.
     */
    void stream(OutputStream os, PeerWatch peer, boolean resumed) throws IOException {
        try {
            long replayTime = System.currentTimeMillis();
            Preamble.replayStart(out, replayTime, resumed);
            Preamble.Sent preamble = sender.preamble.snapshot();
            for (byte[] line : preamble.lines()) {
                out.line(line);
            }
            int[] storage = {0, 0};
            try {
                storage = Preamble.storage(out, replayTime);
            } catch (Throwable t) { // the driver stopping, an RPC timeout: the replay goes on without it
                if (!warnedStorage) {
                    warnedStorage = true;
                    LOG.warn("sparkprobe: could not read the driver's storage status for the replay: {}", t.toString());
                }
            }
            for (byte[] line : running.values()) {
                out.line(line);
            }
            Preamble.replayEnd(out, replayTime, preamble.executorCount, storage[0], storage[1], running.size());
            stats();
            for (Object item : carry) { // taken from the queue but held back when the last agent went away
                append(item, preamble);
            }
            carry.clear();
            write(os, peer);
            long nextStats = System.nanoTime() + statsIntervalNanos;
            while (!sender.stopped) {
                if (peer.closed()) { // the agent went away or sent the listener elsewhere: nothing more is written
                    gone(peer);
                }
                boolean last = sender.closing; // read before taking: an event offered before close() is seen
                int n = 0;
                while (n < ROUND && step(preamble, os, peer)) {
                    n++;
                }
                long now = System.nanoTime();
                if (now - nextStats >= 0) {
                    stats();
                    nextStats = now + statsIntervalNanos;
                }
                if (n == ROUND) {
                    continue; // a full round: more is queued, take it before anything else
                }
                if (last) {
                    stats(); // final counters, so the agent sees the whole run
                    write(os, peer);
                    return;
                }
                write(os, peer);
                long wait = Math.min(nextStats - System.nanoTime(), pollNanos);
                if (wait > 0 && !sender.closing) {
                    queue.await(wait);
                }
            }
        } catch (IOException e) {
            // Events encoded but perhaps never delivered: count them as dropped (honest).
            sender.lost.addAndGet(pending.size());
            release(pending);
            out.clear(KEEP_BYTES);
            throw e;
        }
    }

    /**
     * Takes one event off the queue into the buffer, and writes the buffer once it is full: false when
     * the queue is empty. One call per event, so that the JIT compiles the per-event path after a few
     * hundred events; the loop around it (in {@link #stream}, which runs once per connection) stays
     * interpreted for minutes at a job's usual rates.
     */
    private boolean step(Preamble.Sent preamble, OutputStream os, PeerWatch peer) throws IOException {
        Object item = queue.poll();
        if (item == null) {
            return false;
        }
        append(item, preamble);
        if (out.size() >= WRITE_BYTES) {
            write(os, peer); // under sustained load, bound the buffer and what a broken connection loses
        }
        return true;
    }

    /** Appends one queued event, unless the preamble of this connection already carried that very line. */
    private void append(Object item, Preamble.Sent preamble) {
        if (item instanceof Captured) {
            Captured c = (Captured) item;
            int mark = out.size();
            if (encode(c, out)) {
                track(c, mark);
                pending.add(c);
            } else {
                sender.records.give(c);
            }
            return;
        }
        byte[] line = (byte[]) item;
        if (!preamble.alreadySent(line)) {
            out.line(line);
            pending.add(item);
        }
    }

    /**
     * Keeps each running task's task_start line (written from {@code mark}, without its newline) for
     * the next replay, until its task_end; at most {@link #MAX_RUNNING} tasks. Sender thread only.
     */
    private void track(Captured c, int mark) {
        if (c.kind == Captured.TASK_START) {
            if (running.size() < MAX_RUNNING) {
                running.put(c.taskId, out.copy(mark, out.size() - 1));
            }
        } else if (c.kind == Captured.TASK_END && !running.isEmpty()) {
            running.remove(c.taskId);
        }
    }

    /**
     * Encodes a {@link Captured} event and its newline into {@code into}. An encoding failure, which
     * would be a bug, drops that event (counted, the partial line removed), never the sender.
     */
    private boolean encode(Captured item, JsonLine into) {
        int mark = into.size();
        try {
            item.encode(into);
            into.raw('\n');
            return true;
        } catch (Throwable t) {
            into.truncate(mark);
            sender.lost.incrementAndGet();
            if (!warnedEncode) {
                warnedEncode = true;
                LOG.warn("sparkprobe: could not encode an event (dropped and counted; further ones not logged)", t);
            }
            return false;
        }
    }

    private void stats() {
        Wire.listenerStats(out, sender.offeredEvents(), sender.droppedEvents(), sender.processingNanos(),
                sender.reconnects.get());
        out.raw('\n');
    }

    /**
     * Writes the buffer to the socket in one call and empties it. When the agent is known to be gone
     * the buffer is not written: its events go back to {@link #carry} for the next connection.
     */
    private void write(OutputStream os, PeerWatch peer) throws IOException {
        if (out.size() == 0) {
            return;
        }
        if (peer.closed()) {
            gone(peer);
        }
        out.writeTo(os);
        os.flush(); // a no-op on a plain socket; TLS writes its records in write()
        out.clear(KEEP_BYTES);
        release(pending);
    }

    /** The agent is gone: the buffered events go back to {@link #carry} for the next connection, unwritten. */
    private void gone(PeerWatch peer) throws IOException {
        carry.addAll(pending);
        pending.clear();
        out.clear(KEEP_BYTES);
        throw new IOException(peer.goElsewhere() ? "agent stopping" : "agent closed the connection");
    }

    /** Empties {@code items}, handing its captured records back to the bus thread for reuse. */
    private void release(List<Object> items) {
        for (int i = 0; i < items.size(); i++) {
            Object item = items.get(i);
            if (item instanceof Captured) {
                sender.records.give((Captured) item);
            }
        }
        items.clear();
    }

    /**
     * For the benchmark's and the tests' own consumer when the thread is not started; single consumer
     * only. Takes up to {@code max} events, encodes them as the sender thread does (newline-ended
     * UTF-8 lines, the same bytes), writes them to {@code sink}, and returns how many it took.
     */
    int drainQueued(OutputStream sink, int max) throws IOException {
        int n = 0;
        Object item;
        while (n < max && (item = queue.poll()) != null) {
            n++;
            if (item instanceof Captured) {
                encode((Captured) item, out);
                sender.records.give((Captured) item);
            } else {
                out.line((byte[]) item);
            }
        }
        out.writeTo(sink);
        out.clear(KEEP_BYTES);
        return n;
    }

    /** Whatever was not sent never will be: count it, so the totals stay honest. Sender thread only. */
    void dropLeftovers() {
        long n = carry.size() + pending.size();
        carry.clear();
        pending.clear();
        while (queue.poll() != null) {
            n++;
        }
        sender.lost.addAndGet(n);
    }
}
