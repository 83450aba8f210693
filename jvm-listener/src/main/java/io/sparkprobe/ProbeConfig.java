package io.sparkprobe;

import org.apache.spark.SparkConf;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Every {@code spark.sparkprobe.*} key the listener reads, read here and nowhere else.
 *
 * <p>A malformed value never fails the Spark application: it is logged once at WARN and the default
 * is used instead.
 */
final class ProbeConfig {
    private static final Logger LOG = LoggerFactory.getLogger(ProbeConfig.class);

    /**
     * {@code spark.sparkprobe.endpoint}: the agents' {@code host:port} ({@code [v6addr]:port} for IPv6), one or
     * several separated by commas; a host may resolve to several addresses. The listener sends to one and fails
     * over to the next ({@link Endpoints}); default {@code 127.0.0.1:7733}.
     */
    static final String ENDPOINT = "spark.sparkprobe.endpoint";
    /** {@code spark.sparkprobe.token}: shared secret sent in the hello; default empty (an agent without a token accepts any). */
    static final String TOKEN = "spark.sparkprobe.token";
    /** {@code spark.sparkprobe.queueCapacity}: events held while the agent is slow or absent, then dropped and counted; default 65536. */
    static final String QUEUE_CAPACITY = "spark.sparkprobe.queueCapacity";
    /** {@code spark.sparkprobe.connectTimeoutMs}: TCP connect timeout, also the wait for the agent's reply to the hello; default 1000. */
    static final String CONNECT_TIMEOUT_MS = "spark.sparkprobe.connectTimeoutMs";
    /** {@code spark.sparkprobe.maxBackoffMs}: ceiling of the exponential reconnect backoff (which starts at 100 ms); default 5000. */
    static final String MAX_BACKOFF_MS = "spark.sparkprobe.maxBackoffMs";
    /** {@code spark.sparkprobe.closeTimeoutMs}: at application end, longest wait for queued events to reach the agent; default 3000. */
    static final String CLOSE_TIMEOUT_MS = "spark.sparkprobe.closeTimeoutMs";
    /** {@code spark.sparkprobe.statsIntervalMs}: period of the in-band {@code listener_stats} line; default 1000. */
    static final String STATS_INTERVAL_MS = "spark.sparkprobe.statsIntervalMs";

    /**
     * {@code spark.sparkprobe.tls.enabled}: connect to the agent over TLS (1.2 or 1.3; the agent runs with
     * {@code --tls-cert}/{@code --tls-key}); the agent's certificate must chain to a trusted CA and name the
     * endpoint's host (host name verification is always on); default false. A value other than
     * {@code true}/{@code false} is logged and taken as {@code true}: a typo never falls back to plain TCP.
     */
    static final String TLS_ENABLED = "spark.sparkprobe.tls.enabled";
    /**
     * {@code spark.sparkprobe.tls.caCert}: a PEM file of one or more CA certificates to trust (for example the
     * CA, or the self-signed certificate, given to the agent's {@code --tls-cert}); default none. Combined with
     * {@code tls.trustStore} when both are set; when neither is, the JVM's default trust store is used.
     */
    static final String TLS_CA_CERT = "spark.sparkprobe.tls.caCert";
    /**
     * {@code spark.sparkprobe.tls.trustStore}: a trust store file (PKCS12 or JKS) of the CAs to trust; default
     * none (the JVM's default trust store: {@code javax.net.ssl.trustStore}, else the JDK's {@code cacerts}).
     */
    static final String TLS_TRUST_STORE = "spark.sparkprobe.tls.trustStore";
    /**
     * {@code spark.sparkprobe.tls.trustStorePassword}: password of {@code tls.trustStore}, checked against the
     * store's integrity; default none (read without an integrity check). A secret: never logged nor sent.
     */
    static final String TLS_TRUST_STORE_PASSWORD = "spark.sparkprobe.tls.trustStorePassword";
    /**
     * {@code spark.sparkprobe.tls.trustStoreType}: {@code PKCS12} or {@code JKS}; default the JVM's default
     * keystore type ({@code PKCS12} on Java 9+), which reads JKS files as well.
     */
    static final String TLS_TRUST_STORE_TYPE = "spark.sparkprobe.tls.trustStoreType";

    static final String DEFAULT_ENDPOINT = "127.0.0.1:7733";

    /**
     * Spark's own {@code spark.eventLog.logStageExecutorMetrics} (default false): only with it does the
     * event log keep what heartbeats report (the driver's, and each executor's as per-stage peaks), so
     * the listener sends heartbeats' executor metrics only then, and a live agent's memory figures equal
     * the event log's either way (docs/decisions.md, 28 and 45). A task end's peaks are always logged,
     * and always sent.
     */
    static final String LOG_STAGE_EXECUTOR_METRICS = "spark.eventLog.logStageExecutorMetrics";

    final String endpoint;
    /** Every valid entry of the endpoint list, in the order given; empty when none is valid. */
    final java.util.List<Endpoints.HostPort> endpoints;
    final String host; // the first entry's; null when no entry parses: the listener then only counts drops
    final int port;
    final String token;
    final int queueCapacity;
    final int connectTimeoutMs;
    final long maxBackoffMs;
    final long closeTimeoutMs;
    final long statsIntervalMs;
    final boolean tlsEnabled;
    final String tlsCaCert; // "" when unset
    final String tlsTrustStore; // "" when unset
    final String tlsTrustStorePassword; // null when unset; a secret: never log it
    final String tlsTrustStoreType; // "" when unset
    /** Send heartbeats' executor metrics ({@link #LOG_STAGE_EXECUTOR_METRICS}). */
    final boolean heartbeatMetrics;
    /** {@code spark.app.id} when the conf already carries it (it does once SparkContext built it). */
    final String appId;

    ProbeConfig(SparkConf conf) {
        endpoint = str(conf, ENDPOINT, DEFAULT_ENDPOINT).trim();
        token = str(conf, TOKEN, "");
        queueCapacity = (int) num(conf, QUEUE_CAPACITY, 65536, 1, 1 << 24);
        connectTimeoutMs = (int) num(conf, CONNECT_TIMEOUT_MS, 1000, 1, 600_000);
        maxBackoffMs = num(conf, MAX_BACKOFF_MS, 5000, 100, 3_600_000);
        closeTimeoutMs = num(conf, CLOSE_TIMEOUT_MS, 3000, 0, 600_000);
        statsIntervalMs = num(conf, STATS_INTERVAL_MS, 1000, 10, 3_600_000);
        appId = str(conf, "spark.app.id", "");
        heartbeatMetrics = bool(conf, LOG_STAGE_EXECUTOR_METRICS, false, false);
        tlsEnabled = bool(conf, TLS_ENABLED, false, true);
        tlsCaCert = str(conf, TLS_CA_CERT, "").trim();
        tlsTrustStore = str(conf, TLS_TRUST_STORE, "").trim();
        tlsTrustStorePassword = str(conf, TLS_TRUST_STORE_PASSWORD, null);
        tlsTrustStoreType = str(conf, TLS_TRUST_STORE_TYPE, "").trim();

        Endpoints.Parsed parsed = Endpoints.parse(endpoint);
        endpoints = java.util.Collections.unmodifiableList(parsed.entries);
        if (!parsed.invalid.isEmpty() && !parsed.entries.isEmpty()) {
            LOG.warn("sparkprobe: ignoring {} in {}={} (not host:port)", parsed.invalid, ENDPOINT, endpoint);
        }
        if (parsed.entries.isEmpty()) {
            LOG.warn("sparkprobe: {}={} is not host:port; the listener will not connect and drops every event",
                    ENDPOINT, endpoint);
            host = null;
            port = -1;
        } else {
            host = parsed.entries.get(0).host;
            port = parsed.entries.get(0).port;
        }
    }

    private static String str(SparkConf conf, String key, String dflt) {
        if (conf == null) {
            return dflt;
        }
        String v = conf.get(key, null);
        return v == null ? dflt : v;
    }

    /** {@code dflt} when unset; {@code malformed} (logged) for a value other than true/false. */
    private static boolean bool(SparkConf conf, String key, boolean dflt, boolean malformed) {
        String v = str(conf, key, null);
        if (v == null) {
            return dflt;
        }
        if ("true".equalsIgnoreCase(v.trim())) {
            return true;
        }
        if ("false".equalsIgnoreCase(v.trim())) {
            return false;
        }
        LOG.warn("sparkprobe: ignoring {}={} (expected true or false); using {}", key, v, malformed);
        return malformed;
    }

    private static long num(SparkConf conf, String key, long dflt, long min, long max) {
        String v = str(conf, key, null);
        if (v == null) {
            return dflt;
        }
        try {
            long n = Long.parseLong(v.trim());
            if (n >= min && n <= max) {
                return n;
            }
        } catch (NumberFormatException e) {
            // fall through to the warning
        }
        LOG.warn("sparkprobe: ignoring {}={} (expected an integer in [{}, {}]); using {}", key, v, min, max, dflt);
        return dflt;
    }
}
