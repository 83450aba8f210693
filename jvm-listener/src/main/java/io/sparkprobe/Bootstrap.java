package io.sparkprobe;

import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.SparkContext;
import org.apache.spark.status.AppStatusStore;
import org.apache.spark.status.api.v1.ExecutorSummary;
import org.apache.spark.storage.BlockId;
import org.apache.spark.storage.BlockManagerId;
import org.apache.spark.storage.BlockStatus;
import org.apache.spark.storage.StorageStatus;

/**
 * The state of an already running application, as events, for a listener registered late.
 *
 * <p>Sources (Spark-internal but public in bytecode, identical in 3.5 and 4.x):
 * <ul>
 *   <li>executors: {@code sc.statusStore().executorList(true)} (the UI's store, fed by the same
 *       listener events): {@code ExecutorSummary.id / hostPort / totalCores / addTime}, so
 *       {@code executor_added} carries the real add time and cores. The driver is skipped unless the
 *       master is {@code local[...]}, where Spark itself posts an executor-added event for it.</li>
 *   <li>block managers and cached blocks: {@code sc.env().blockManager().master().getStorageStatus()},
 *       the driver-side BlockManagerMasterEndpoint's table (a local RPC on the driver). It holds, per
 *       block manager, the {@code BlockStatus} (storage level, memSize, diskSize) last reported by
 *       that executor, i.e. exactly what its {@code SparkListenerBlockUpdated} events carried, so the
 *       {@code block_updated} lines need no splitting of replicated sizes (the status store's
 *       {@code RDDPartitionInfo} only has sizes summed over replicas). Its {@code maxMem} gives
 *       {@code block_manager_added.max_mem}; the time of that line is the executor's add time from
 *       the status store (for the driver, the store's add time, which is its block manager's
 *       registration time), or the application start time when unknown.</li>
 * </ul>
 * Each part fails independently: an error is counted and logged, and the rest is still sent.
 */
final class Bootstrap {
    private Bootstrap() {
    }

    private static final Method EXECUTOR_LIST =
            ScalaCompat.method(AppStatusStore.class, "executorList", boolean.class);

    static void snapshot(SparkContext sc, Sender s, ProbeListener l) {
        final Map<String, Long> addTimes = new HashMap<String, Long>();
        try {
            boolean local = sc.isLocal();
            List<ExecutorSummary> executors = new ArrayList<ExecutorSummary>();
            for (Object o : ScalaCompat.seq(EXECUTOR_LIST, sc.statusStore(), true)) {
                ExecutorSummary ex = (ExecutorSummary) o;
                addTimes.put(ex.id(), ex.addTime() == null ? sc.startTime() : ex.addTime().getTime());
                if (!"driver".equals(ex.id()) || local) {
                    executors.add(ex);
                }
            }
            Collections.sort(executors, new Comparator<ExecutorSummary>() { // in the order they came
                @Override
                public int compare(ExecutorSummary a, ExecutorSummary b) {
                    return Long.compare(addTimes.get(a.id()), addTimes.get(b.id()));
                }
            });
            for (ExecutorSummary ex : executors) {
                s.executorAdded(ex.id(), Wire.executorAdded(ex.id(), hostOf(ex.hostPort()), ex.totalCores(),
                        addTimes.get(ex.id()), ex.resourceProfileId()));
            }
        } catch (Throwable t) {
            l.internalError(t);
        }

        try {
            StorageStatus[] statuses = sc.env().blockManager().master().getStorageStatus();
            final long start = sc.startTime();
            Arrays.sort(statuses, new Comparator<StorageStatus>() {
                @Override
                public int compare(StorageStatus a, StorageStatus b) {
                    return Long.compare(added(addTimes, a, start), added(addTimes, b, start));
                }
            });
            List<byte[]> blocks = new ArrayList<byte[]>();
            for (StorageStatus st : statuses) {
                BlockManagerId bm = st.blockManagerId();
                s.offer(Wire.blockManagerAdded(bm.executorId(), bm.host(), added(addTimes, st, start),
                        st.maxMem()));
                for (Object o : ScalaCompat.toList(st.rddBlocks())) {
                    scala.Tuple2<?, ?> kv = (scala.Tuple2<?, ?>) o;
                    BlockId id = (BlockId) kv._1();
                    BlockStatus bs = (BlockStatus) kv._2();
                    blocks.add(Wire.blockUpdated(id.name(), bm.executorId(), bs.storageLevel(),
                            bs.memSize(), bs.diskSize()));
                }
            }
            for (byte[] line : blocks) { // after every block manager, as in a live stream
                s.offer(line);
            }
        } catch (Throwable t) {
            l.internalError(t);
        }
    }

    private static long added(Map<String, Long> addTimes, StorageStatus st, long dflt) {
        Long t = addTimes.get(st.blockManagerId().executorId());
        return t == null ? dflt : t;
    }

    /** "host:port" → "host" (the store keeps the executor host, then the block manager's host:port). */
    static String hostOf(String hostPort) {
        if (hostPort == null) {
            return "";
        }
        int colon = hostPort.lastIndexOf(':');
        if (colon <= 0) {
            return hostPort;
        }
        if (hostPort.startsWith("[")) { // [v6]:port
            int close = hostPort.indexOf(']');
            return close > 0 ? hostPort.substring(1, close) : hostPort;
        }
        if (hostPort.indexOf(':') != colon) { // bare IPv6 address without a port
            return hostPort;
        }
        for (int i = colon + 1; i < hostPort.length(); i++) {
            if (!Character.isDigit(hostPort.charAt(i))) {
                return hostPort;
            }
        }
        return hostPort.substring(0, colon);
    }
}
