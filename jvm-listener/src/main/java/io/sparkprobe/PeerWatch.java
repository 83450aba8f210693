package io.sparkprobe;

import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;

/**
 * Tells the sender that the agent closed the connection, without a system call on the sender's path.
 *
 * <p>A stopped agent's socket keeps accepting writes until its RST comes back, and what was written
 * meanwhile is lost: the sender must know the agent is gone before it writes. The agent never sends
 * anything after its reply to the hello, so a thread blocked in a read on the socket wakes only when
 * the connection ends (end of stream, reset, or the socket closed by this side) and raises a flag
 * that the sender reads before each write. The thread costs no CPU while it waits. A timed read on
 * the sender itself (the earlier check) cost a 1 ms poll, a thrown timeout and the interpreted code
 * around both at every wake-up: most of the sender's CPU at a job's usual event rates.
 *
 * <p>The one line an agent may send after the hello reply is its go-elsewhere line when it stops
 * gracefully (docs/wire-format.md): the watch then raises {@link #goElsewhere} with the flag and wakes
 * the sender, which stops writing and moves to its next agent at once. Anything else is ignored
 * (lines longer than 64 KiB unread past that).
 */
final class PeerWatch implements Runnable {
    private static final int MAX_LINE = 64 * 1024;
    private final InputStream in;
    private final EventQueue wake;
    private volatile boolean closed;
    private volatile boolean goElsewhere;

    private PeerWatch(InputStream in, EventQueue wake) {
        this.in = in;
        this.wake = wake;
    }

    /** Starts watching an accepted connection (its read timeout must be 0); {@code wake} is woken when it ends. */
    static PeerWatch start(Socket s, EventQueue wake) throws IOException {
        PeerWatch w = new PeerWatch(s.getInputStream(), wake);
        Thread t = new Thread(w, "sparkprobe-watch");
        t.setDaemon(true);
        t.start();
        return w;
    }

    @Override
    public void run() {
        byte[] buf = new byte[512];
        java.io.ByteArrayOutputStream line = new java.io.ByteArrayOutputStream(128);
        try {
            int n;
            while (!goElsewhere && (n = in.read(buf)) >= 0) {
                for (int i = 0; i < n; i++) {
                    if (buf[i] == '\n') {
                        String text = new String(line.toByteArray(), java.nio.charset.StandardCharsets.UTF_8);
                        if (Connector.GO_ELSEWHERE.matcher(text).find()) {
                            goElsewhere = true;
                            break;
                        }
                        line.reset();
                    } else if (line.size() < MAX_LINE) {
                        line.write(buf[i]);
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            // reset, or closed by this side: the connection is over either way
        }
        closed = true;
        if (wake != null) {
            wake.wake(); // the sender may be asleep with nothing queued
        }
    }

    /** True once the agent has sent its go-elsewhere line (then {@link #closed} is true too). */
    boolean goElsewhere() {
        return goElsewhere;
    }

    /** True once the connection has ended. */
    boolean closed() {
        return closed;
    }
}
