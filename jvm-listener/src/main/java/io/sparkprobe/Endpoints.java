package io.sparkprobe;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The agents a listener may send to, and the order it tries them in (docs/configuration.md,
 * {@code spark.sparkprobe.endpoint}).
 *
 * <p>The endpoint is a comma-separated list of {@code host:port} ({@code [v6addr]:port} for IPv6);
 * each host may resolve to several addresses (a DNS name for several agents, a Kubernetes headless
 * Service). A <em>round</em> is every address of every entry, entries and each entry's addresses
 * rotated by one random offset per listener, so that the drivers of many applications spread over
 * the agents. The sender tries the addresses of a round one after the other without waiting (each
 * attempt is bounded by {@code connectTimeoutMs}); only a round in which none accepted is followed by
 * the backoff. After a connection ends (the agent died, or sent the listener elsewhere), the next
 * round starts after that address, so every other agent is tried before it. Names are resolved
 * again at each round: a DNS change (a pod replaced) is seen at the next failover.
 *
 * <p>Used by the sender thread only; never on Spark's bus.
 */
final class Endpoints {
    /** One {@code host:port} entry of the endpoint list. */
    static final class HostPort {
        final String host;
        final int port;

        HostPort(String host, int port) {
            this.host = host;
            this.port = port;
        }

        @Override
        public String toString() {
            return host.indexOf(':') >= 0 ? "[" + host + "]:" + port : host + ":" + port;
        }
    }

    /** The entries of an endpoint value, and the parts that were not {@code host:port}. */
    static final class Parsed {
        final List<HostPort> entries = new ArrayList<HostPort>();
        final List<String> invalid = new ArrayList<String>();
    }

    /** Splits {@code value} at commas; each part must be {@code host:port} with a port in 1..65535. */
    static Parsed parse(String value) {
        Parsed out = new Parsed();
        if (value == null) {
            return out;
        }
        for (String raw : value.split(",")) {
            String part = raw.trim();
            if (part.isEmpty()) {
                continue;
            }
            HostPort hp = parseOne(part);
            if (hp == null) {
                out.invalid.add(part);
            } else {
                out.entries.add(hp);
            }
        }
        return out;
    }

    private static HostPort parseOne(String part) {
        int colon = part.lastIndexOf(':');
        if (colon <= 0) {
            return null;
        }
        String host = part.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        } else if (host.indexOf(':') >= 0) {
            return null; // a bare IPv6 address needs brackets: [::1]:7733
        }
        int port;
        try {
            port = Integer.parseInt(part.substring(colon + 1));
        } catch (NumberFormatException e) {
            return null;
        }
        if (host.isEmpty() || port <= 0 || port > 65535) {
            return null;
        }
        return new HostPort(host, port);
    }

    /** Resolves a host to all its addresses; the sender thread only (it may block on DNS). */
    interface Resolver {
        InetAddress[] resolve(String host) throws UnknownHostException;
    }

    private static final Resolver DNS = new Resolver() {
        @Override
        public InetAddress[] resolve(String host) throws UnknownHostException {
            return InetAddress.getAllByName(host);
        }
    };

    /** One address to try, with the entry it came from (TLS verifies the agent's name, not its address). */
    static final class Target {
        final HostPort entry;
        final InetSocketAddress address;

        Target(HostPort entry, InetSocketAddress address) {
            this.entry = entry;
            this.address = address;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Target && ((Target) o).address.equals(address) && ((Target) o).entry.host.equals(entry.host);
        }

        @Override
        public int hashCode() {
            return address.hashCode();
        }

        @Override
        public String toString() {
            String ip = address.getAddress() == null ? "?" : address.getAddress().getHostAddress();
            return ip.equals(entry.host) ? entry.toString() : entry + " (" + ip + ")";
        }
    }

    private final List<HostPort> configured;
    private final Resolver resolver;
    private final int offset;
    private final List<Target> round = new ArrayList<Target>();
    private int next;
    /** Hosts that did not resolve in the last round (for the sender's one-time warning). */
    final List<String> unresolved = new ArrayList<String>();

    Endpoints(List<HostPort> configured) {
        this(configured, DNS, ThreadLocalRandom.current().nextInt(1 << 16));
    }

    /** With a given resolver and rotation offset: for tests. */
    Endpoints(List<HostPort> configured, Resolver resolver, int offset) {
        this.configured = Collections.unmodifiableList(new ArrayList<HostPort>(configured));
        this.resolver = resolver;
        this.offset = offset;
    }

    List<HostPort> configured() {
        return configured;
    }

    /** The next address of the current round, or null when the round is over (back off, then {@link #newRound}). */
    Target next() {
        return next < round.size() ? round.get(next++) : null;
    }

    /** Starts a round: every address of every entry, resolved now, in the listener's rotated order. */
    void newRound() {
        round.clear();
        unresolved.clear();
        next = 0;
        int n = configured.size();
        for (int i = 0; i < n; i++) {
            HostPort hp = configured.get((i + offset) % n);
            InetAddress[] addresses;
            try {
                addresses = resolver.resolve(hp.host);
            } catch (UnknownHostException | SecurityException e) {
                unresolved.add(hp.host);
                continue;
            }
            for (int j = 0; j < addresses.length; j++) {
                round.add(new Target(hp, new InetSocketAddress(addresses[(j + offset) % addresses.length], hp.port)));
            }
        }
    }

    /**
     * Starts a round that tries {@code last} (the agent a connection just ended with) after every other
     * address: a dead or stopping agent is the last one to try again.
     */
    void newRoundAfter(Target last) {
        newRound();
        if (last != null && round.remove(last)) {
            round.add(last);
        }
    }

    /** Addresses in the current round (for tests and logs). */
    List<Target> round() {
        return Collections.unmodifiableList(round);
    }
}
