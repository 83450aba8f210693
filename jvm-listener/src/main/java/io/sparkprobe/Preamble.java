package io.sparkprobe;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What the sender writes right after every accepted hello, before the queue: the app_start line, the
 * conf line, every resource profile's resource_profile_added line (at most {@link #MAX_PROFILES})
 * and the executor_added line of every live executor (then, from {@link SendLoop}, a
 * listener_stats line). The agent may be new (restarted mid-app): these lines tell it the app and its
 * executors again (docs/wire-format.md, "Order and loss").
 *
 * <p>Written on the bus thread (app start, conf, an executor added or removed: rare events; the lock
 * is uncontended but for the sender's copy at each hello), read by the sender thread at each hello
 * ({@link #snapshot}). The remembered lines are the very instances that were also queued, so a queued
 * copy of a line this connection's preamble already carried is recognised by identity and skipped
 * ({@link Sent#alreadySent}).
 */
final class Preamble {
    private volatile byte[] appStartLine;
    private volatile byte[] confLine;
    /** Executor id → its executor_added line, in the order they came; until the executor is removed. */
    private final Map<String, byte[]> liveExecutors = new LinkedHashMap<String, byte[]>();
    /** Resource profiles a replay repeats; an app has a handful (one per {@code withResources}), this bounds a runaway one. */
    static final int MAX_PROFILES = 1024;
    /** Profile id → its resource_profile_added line, in the order they came (guarded by {@link #liveExecutors}). */
    private final Map<Integer, byte[]> profiles = new LinkedHashMap<Integer, byte[]>();

    /** Open Spark Connect sessions a replay repeats, at most this many (the first ones opened). */
    static final int MAX_SESSIONS = 10000;
    /** Session id → its session_started line, while open (guarded by {@link #liveExecutors}). */
    private final Map<String, byte[]> openSessions = new LinkedHashMap<String, byte[]>();
    private volatile byte[] connectServerLine;

    /** Remembers an open session's line (the same instance is queued); past {@link #MAX_SESSIONS} only queued. */
    void sessionStarted(String sessionId, byte[] line) {
        synchronized (liveExecutors) {
            if (openSessions.size() < MAX_SESSIONS || openSessions.containsKey(sessionId)) {
                openSessions.put(sessionId, line);
            }
        }
    }

    /** Forgets a closed session. */
    void sessionClosed(String sessionId) {
        synchronized (liveExecutors) {
            openSessions.remove(sessionId);
        }
    }

    /** Remembers the connect_server_started line; returns the instance to queue. */
    byte[] connectServerStarted(byte[] line) {
        connectServerLine = line;
        return line;
    }

    /** Remembers a profile's line (the same instance is queued); past {@link #MAX_PROFILES} only queued. */
    byte[] resourceProfileAdded(int profileId, byte[] line) {
        synchronized (liveExecutors) {
            if (profiles.size() < MAX_PROFILES || profiles.containsKey(profileId)) {
                profiles.put(profileId, line);
            }
        }
        return line;
    }

    /**
     * Remembers the app_start line; returns the instance to queue. An equal line keeps the old
     * instance, so a queued copy stays recognisable as the one the preamble sent.
     */
    byte[] appStart(byte[] line) {
        byte[] old = appStartLine;
        if (old != null && Arrays.equals(old, line)) {
            line = old;
        }
        appStartLine = line;
        return line;
    }

    /** The same for the conf line. */
    byte[] conf(byte[] line) {
        byte[] old = confLine;
        if (old != null && Arrays.equals(old, line)) {
            line = old;
        }
        confLine = line;
        return line;
    }

    /** Remembers the executor's add line (the same instance is queued) until it is removed. */
    void executorAdded(String execId, byte[] line) {
        synchronized (liveExecutors) {
            liveExecutors.put(execId, line);
        }
    }

    /** Forgets the executor: no longer repeated after a hello. */
    void executorRemoved(String execId) {
        synchronized (liveExecutors) {
            liveExecutors.remove(execId);
        }
    }

    /** The preamble of one connection, taken at its hello. Sender thread. */
    Sent snapshot() {
        List<byte[]> executors;
        List<byte[]> rps;
        List<byte[]> sessions = new ArrayList<byte[]>();
        synchronized (liveExecutors) {
            executors = new ArrayList<byte[]>(liveExecutors.values());
            rps = new ArrayList<byte[]>(profiles.values());
            byte[] server = connectServerLine;
            if (server != null) {
                sessions.add(server);
            }
            sessions.addAll(openSessions.values());
        }
        int executorCount = executors.size();
        executors.addAll(sessions); // after the executors: a session's start is later than the app's
        return new Sent(appStartLine, confLine, rps, executors, executorCount);
    }

    // ---- the replay's markers (docs/wire-format.md, "Replay") ---------------------------------------

    private static final byte[] REPLAY_START = JsonLine.ascii("{\"k\":\"replay_start\",\"time\":");
    private static final byte[] RESUMED = JsonLine.ascii(",\"resumed\":");
    private static final byte[] REPLAY_END = JsonLine.ascii("{\"k\":\"replay_end\",\"time\":");

    /** Appends the replay_start line and its newline: {@code time} the driver's clock now; {@code resumed} when events went out before. */
    static void replayStart(JsonLine out, long time, boolean resumed) {
        out.raw(REPLAY_START).num(time).raw(RESUMED).bool(resumed).raw('}').raw('\n');
    }

    /** Appends the replay_end line and its newline, with what the replay carried. */
    static void replayEnd(JsonLine out, long time, int executors, int blockManagers, int blocks, int tasks) {
        out.raw(REPLAY_END).num(time)
                .raw(",\"executors\":").num(executors)
                .raw(",\"block_managers\":").num(blockManagers)
                .raw(",\"blocks\":").num(blocks)
                .raw(",\"tasks\":").num(tasks)
                .raw('}').raw('\n');
    }

    /**
     * Appends a block_manager_added line per block manager and then a block_updated line per cached
     * RDD block and location, from Spark's {@code BlockManagerMaster} storage status (as {@link Bootstrap}
     * reads it; a local RPC to the driver's endpoint, on the sender thread). Returns {block managers,
     * blocks}; nothing before the SparkContext is up. {@code time} dates the block managers (the agent
     * ignores one it knows).
     */
    static int[] storage(JsonLine out, long time) {
        int[] counts = new int[2];
        org.apache.spark.SparkEnv env = org.apache.spark.SparkEnv.get();
        if (env == null || env.blockManager() == null || env.blockManager().master() == null) {
            return counts;
        }
        org.apache.spark.storage.StorageStatus[] statuses = env.blockManager().master().getStorageStatus();
        List<byte[]> blocks = new ArrayList<byte[]>();
        for (org.apache.spark.storage.StorageStatus st : statuses) {
            org.apache.spark.storage.BlockManagerId bm = st.blockManagerId();
            out.line(Wire.blockManagerAdded(bm.executorId(), bm.host(), time, st.maxMem()));
            counts[0]++;
            for (Object o : ScalaCompat.toList(st.rddBlocks())) {
                scala.Tuple2<?, ?> kv = (scala.Tuple2<?, ?>) o;
                org.apache.spark.storage.BlockStatus bs = (org.apache.spark.storage.BlockStatus) kv._2();
                blocks.add(Wire.blockUpdated(((org.apache.spark.storage.BlockId) kv._1()).name(), bm.executorId(),
                        bs.storageLevel(), bs.memSize(), bs.diskSize()));
            }
        }
        for (byte[] line : blocks) { // after every block manager, as in a live stream
            out.line(line);
        }
        counts[1] = blocks.size();
        return counts;
    }

    /** The lines one connection's preamble carries, and the test that keeps the queue from repeating them. */
    static final class Sent {
        private final byte[] appStart;
        private final byte[] conf;
        private final List<byte[]> lines = new ArrayList<byte[]>();
        /** The repeated instances sent (executors, profiles, Connect's lines); each queued copy is skipped once. */
        private final Set<byte[]> executors = Collections.newSetFromMap(new IdentityHashMap<byte[], Boolean>());

        /** How many executor_added lines it carries (for replay_end). */
        final int executorCount;

        Sent(byte[] appStart, byte[] conf, List<byte[]> profileLines, List<byte[]> executorLines, int executorCount) {
            this.executorCount = executorCount;
            this.appStart = appStart;
            this.conf = conf;
            if (appStart != null) {
                lines.add(appStart);
            }
            if (conf != null) {
                lines.add(conf);
            }
            for (byte[] line : profileLines) { // before the executors that name them
                lines.add(line);
                executors.add(line);
            }
            for (byte[] line : executorLines) {
                lines.add(line);
                executors.add(line);
            }
        }

        /** In the order they are written: app_start, conf, each profile's line, each live executor's executor_added. */
        List<byte[]> lines() {
            return lines;
        }

        /**
         * True when {@code line}, taken from the queue, is the very instance this preamble sent (an
         * agent re-adds a known executor harmlessly, but there is no need to send it twice). True
         * once for an executor line.
         */
        boolean alreadySent(byte[] line) {
            return line == appStart || line == conf || (!executors.isEmpty() && executors.remove(line));
        }
    }
}
