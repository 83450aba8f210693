package io.sparkprobe;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The sender thread's outer loop: connect to an agent of the endpoint list ({@link Endpoints}: every
 * address in turn, the backoff only after a whole round failed), TCP then TLS when enabled, send the
 * hello and read the agent's reply, hand the accepted connection to the {@link SendLoop} (with a
 * {@link PeerWatch} on it), and when it ends, start a round with that agent last; a stopping agent's
 * go-elsewhere line (in the hello's reply or later) moves the listener on at once. Each kind of
 * failure is logged once at WARN.
 *
 * <p>Runs only on the sender thread; the state {@link Sender#close} and {@link Sender#isConnected}
 * read (connected, ever connected, first attempt done, the socket) lives in the {@link Sender}.
 */
final class Connector implements Runnable {
    private static final Logger LOG = LoggerFactory.getLogger(Connector.class);
    private static final long INITIAL_BACKOFF_MS = 100;
    private static final int MAX_REPLY_CHARS = 64 * 1024;
    private static final Pattern OK_TRUE = Pattern.compile("\"ok\"\\s*:\\s*true");
    static final Pattern GO_ELSEWHERE = Pattern.compile("\"go_elsewhere\"\\s*:\\s*true");
    private static final Pattern ERROR = Pattern.compile("\"error\"\\s*:\\s*\"((?:[^\"\\\\]|\\\\.)*)\"");

    private final Sender sender;
    private final ProbeConfig cfg;
    private final SendLoop loop;
    /** Null unless {@code spark.sparkprobe.tls.enabled}. */
    private final Tls tls;
    private boolean warnedUnreachable;
    private boolean warnedRejected;
    private boolean warnedTls;
    private boolean warnedUnresolved;

    Connector(Sender sender, SendLoop loop) {
        this.sender = sender;
        this.cfg = sender.cfg;
        this.loop = loop;
        this.tls = cfg.tlsEnabled ? new Tls(cfg) : null;
    }

    @Override
    public void run() {
        long backoff = INITIAL_BACKOFF_MS;
        Endpoints endpoints = new Endpoints(cfg.endpoints);
        endpoints.newRound();
        while (!sender.stopped) {
            String appId = sender.appId;
            if (appId == null) {
                if (sender.closing) {
                    break;
                }
                sleep(50); // the hello needs the app id; onApplicationStart will bring it
                continue;
            }
            Endpoints.Target target = endpoints.next();
            if (target == null) { // a whole round without an accepting agent: back off, then try them all again
                if (!endpoints.unresolved.isEmpty() && !warnedUnresolved) {
                    warnedUnresolved = true;
                    LOG.warn("sparkprobe: agent host(s) {} of {} did not resolve (retrying)", endpoints.unresolved,
                            cfg.endpoint);
                }
                sender.firstAttemptDone = true;
                if (sender.closing && !sender.everConnected) {
                    break;
                }
                sleep(backoff);
                backoff = Math.min(backoff * 2, cfg.maxBackoffMs);
                endpoints.newRound();
                continue;
            }
            Socket raw = new Socket();
            sender.socket = raw; // close() closes the TCP socket itself: never waits on the TLS layer's locks
            Socket s = raw;
            PeerWatch peer = null;
            try {
                raw.connect(target.address, cfg.connectTimeoutMs);
                raw.setTcpNoDelay(true);
                raw.setSoTimeout(cfg.connectTimeoutMs); // bounds the TLS handshake and the hello reply
                if (tls != null) {
                    s = tls.handshake(raw, target.entry.host, target.entry.port);
                }
                OutputStream out = s.getOutputStream();
                hello(s, out, appId, target);
                s.setSoTimeout(0); // the watch's read waits as long as the connection lasts
                boolean resumed = sender.everConnected;
                if (resumed) {
                    sender.reconnects.incrementAndGet();
                    LOG.info("sparkprobe: reconnected to agent {}", target);
                } else {
                    LOG.info("sparkprobe: connected to agent {}", target);
                }
                sender.connected = true;
                sender.everConnected = true;
                sender.firstAttemptDone = true;
                backoff = INITIAL_BACKOFF_MS;
                peer = PeerWatch.start(s, sender.queue);
                loop.stream(out, peer, resumed);
                closeQuietly(s);
                break; // stream() returns only when closing
            } catch (GoElsewhere e) {
                // A stopping agent: the next one at once, this one last (docs/wire-format.md, "Graceful stop").
                sender.connected = false;
                closeQuietly(raw);
                LOG.info("sparkprobe: agent {} is stopping; moving to the next agent", target);
                endpoints.newRoundAfter(target);
            } catch (IOException e) {
                sender.connected = false;
                closeQuietly(raw);
                if (sender.stopped) {
                    break;
                }
                if (peer != null && peer.goElsewhere()) {
                    LOG.info("sparkprobe: agent {} is stopping; moving to the next agent", target);
                    endpoints.newRoundAfter(target); // at once, without backoff
                    continue;
                }
                warn(e, target);
                if (peer != null) { // an accepted connection ended: every other agent first, without waiting
                    endpoints.newRoundAfter(target);
                }
                // else: the next address of this round, at once (the backoff comes after the round)
            } catch (Throwable t) {
                // Never let the sender die silently on a bug; the listener keeps counting drops.
                LOG.warn("sparkprobe: sender stopped on an internal error", t);
                sender.halt();
                closeQuietly(raw);
                break;
            }
        }
        sender.connected = false;
        loop.dropLeftovers();
    }

    /** The first failure of each kind at WARN (a rejected hello was logged where it was read). */
    private void warn(IOException e, Endpoints.Target target) {
        if (e instanceof Tls.Failure) {
            if (!warnedTls) {
                warnedTls = true;
                LOG.warn("sparkprobe: TLS to agent {} failed: {}; retrying with backoff, events beyond {} "
                        + "queued are dropped and counted", target, e.getMessage(), cfg.queueCapacity);
            }
        } else if (!warnedUnreachable && !(e instanceof Rejected)) {
            warnedUnreachable = true;
            LOG.warn("sparkprobe: agent {} unavailable ({}); retrying in the background, events beyond {} "
                    + "queued are dropped and counted", target, e.toString(), cfg.queueCapacity);
        }
    }

    /**
     * Writes the hello and reads the one-line reply; returns when accepted. A rejection throws
     * {@link Rejected} (logged once at WARN here), a stopping agent's {@link GoElsewhere}.
     */
    private void hello(Socket s, OutputStream out, String appId, Endpoints.Target target) throws IOException {
        out.write(new JsonLine(256).line(Wire.hello(appId, cfg.token, Sender.LISTENER_VERSION, Sender.WIRE_VERSION))
                .toBytes());
        out.flush();
        String reply = readLine(s.getInputStream());
        if (reply == null) {
            throw new IOException("agent closed the connection before replying to the hello"
                    + (tls == null ? " (if the agent serves TLS, set " + ProbeConfig.TLS_ENABLED + "=true)" : ""));
        }
        if (OK_TRUE.matcher(reply).find()) {
            return;
        }
        if (GO_ELSEWHERE.matcher(reply).find()) {
            throw new GoElsewhere();
        }
        Matcher m = ERROR.matcher(reply);
        String error = m.find() ? m.group(1) : reply;
        if (!warnedRejected) {
            warnedRejected = true;
            LOG.warn("sparkprobe: agent {} rejected the hello: {} (trying the other agents, then with backoff)",
                    target, error);
        }
        throw new Rejected(error);
    }

    /** The agent answered the hello with an error (bad token, unsupported wire version...). */
    private static final class Rejected extends IOException {
        private static final long serialVersionUID = 1L;

        Rejected(String error) {
            super("agent rejected the hello: " + error);
        }
    }

    /** The agent is stopping and sent the listener elsewhere (in its hello reply). */
    private static final class GoElsewhere extends IOException {
        private static final long serialVersionUID = 1L;

        GoElsewhere() {
            super("agent stopping");
        }
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

    /** Sleeps {@code ms} in slices, returning early once the sender is stopped. */
    private void sleep(long ms) {
        long end = System.currentTimeMillis() + ms;
        long left;
        while (!sender.stopped && (left = end - System.currentTimeMillis()) > 0) {
            try {
                Thread.sleep(Math.min(left, 50));
            } catch (InterruptedException e) {
                if (sender.stopped) {
                    return;
                }
            }
        }
    }

    static void closeQuietly(Socket s) {
        if (s != null) {
            try {
                s.close();
            } catch (IOException ignored) {
                // nothing left to do
            }
        }
    }
}
