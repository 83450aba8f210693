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
 */
final class PeerWatch implements Runnable {
    private final InputStream in;
    private volatile boolean closed;

    private PeerWatch(InputStream in) {
        this.in = in;
    }

    /** Starts watching an accepted connection (its read timeout must be 0). */
    static PeerWatch start(Socket s) throws IOException {
        PeerWatch w = new PeerWatch(s.getInputStream());
        Thread t = new Thread(w, "sparkprobe-watch");
        t.setDaemon(true);
        t.start();
        return w;
    }

    @Override
    public void run() {
        byte[] buf = new byte[512];
        try {
            while (in.read(buf) >= 0) {
                // nothing is expected after the hello reply; whatever comes is ignored
            }
        } catch (IOException | RuntimeException e) {
            // reset, or closed by this side: the connection is over either way
        }
        closed = true;
    }

    /** True once the connection has ended. */
    boolean closed() {
        return closed;
    }
}
