package io.sparkprobe;

import java.lang.reflect.Field;
import org.apache.spark.executor.ExecutorMetrics;

/**
 * The executor metrics peaks sparkprobe sends ({@code executor_metrics}, docs/wire-format.md): the
 * {@code ExecutorMetricType} names of {@code sparkprobe.events.EXECUTOR_METRIC_NAMES} (memory areas,
 * process-tree sizes, GC counts and times), copied out of a Spark {@link ExecutorMetrics} into a
 * {@code long[]} in {@link #NAMES} order, and encoded with only the values above 0 (as the event-log
 * reader keeps them: a 0 is a metric not measured).
 *
 * <p>The copy runs on the bus thread for every task end, so it allocates nothing: Spark keeps the
 * values in one private {@code long[]} ({@code ExecutorMetrics.metrics}, indexed by
 * {@code ExecutorMetricType.metricToOffset}; the same in Spark 3.5 and 4.x), read here through a
 * {@link Field} made accessible once (Spark's classes are in the unnamed module), then one array
 * load per name. The public {@code getMetricValue(name)} would look each name up in a Scala map
 * (on Scala 2.12 an {@code Option} allocated per name) and is the fallback if the field is absent.
 * Names this Spark does not have (older versions) stay 0 and are never sent.
 */
final class ExecutorPeaks {
    private ExecutorPeaks() {
    }

    /** The same names, in the same order, as {@code sparkprobe.events.EXECUTOR_METRIC_NAMES}. */
    static final String[] NAMES = {
        "JVMHeapMemory",
        "JVMOffHeapMemory",
        "OnHeapExecutionMemory",
        "OffHeapExecutionMemory",
        "OnHeapStorageMemory",
        "OffHeapStorageMemory",
        "OnHeapUnifiedMemory",
        "OffHeapUnifiedMemory",
        "DirectPoolMemory",
        "MappedPoolMemory",
        "ProcessTreeJVMVMemory",
        "ProcessTreeJVMRSSMemory",
        "ProcessTreePythonVMemory",
        "ProcessTreePythonRSSMemory",
        "ProcessTreeOtherVMemory",
        "ProcessTreeOtherRSSMemory",
        "MinorGCCount",
        "MinorGCTime",
        "MajorGCCount",
        "MajorGCTime",
        "TotalGCTime",
        "ConcurrentGCCount",
        "ConcurrentGCTime",
    };

    /** Each name's {@code ,"Name":}, pre-encoded; {@link #FIRST_KEYS} without the comma. */
    private static final byte[][] KEYS = new byte[NAMES.length][];
    private static final byte[][] FIRST_KEYS = new byte[NAMES.length][];
    /** Each name's index in Spark's metrics array; -1 when this Spark has no such metric. */
    private static final int[] OFFSETS = new int[NAMES.length];
    /** Spark's private array field, or null (then {@code getMetricValue} is used). */
    private static final Field VALUES = valuesField();

    static {
        Object offsets = offsets();
        for (int i = 0; i < NAMES.length; i++) {
            FIRST_KEYS[i] = JsonLine.ascii("\"" + NAMES[i] + "\":");
            KEYS[i] = JsonLine.ascii(",\"" + NAMES[i] + "\":");
            OFFSETS[i] = offset(offsets, NAMES[i]);
        }
    }

    /** A new array for {@link #copy} (one per pooled record, or per rare event). */
    static long[] newValues() {
        return new long[NAMES.length];
    }

    /**
     * Copies the peaks of {@code m} into {@code into} ({@link #NAMES} order); true when any is above
     * 0, i.e. when there is a line to send. Allocates nothing.
     */
    static boolean copy(ExecutorMetrics m, long[] into) throws Exception {
        if (m == null) {
            return false;
        }
        long[] values = VALUES == null ? null : (long[]) VALUES.get(m);
        boolean any = false;
        for (int i = 0; i < OFFSETS.length; i++) {
            int at = OFFSETS[i];
            long v;
            if (at < 0) {
                v = 0;
            } else if (values != null) {
                v = at < values.length ? values[at] : 0;
            } else {
                v = m.getMetricValue(NAMES[i]);
            }
            into[i] = v;
            any |= v > 0;
        }
        return any;
    }

    private static final byte[] HEAD = JsonLine.ascii("{\"k\":\"executor_metrics\",\"exec_id\":");
    private static final byte[] METRICS = JsonLine.ascii(",\"metrics\":{");
    private static final byte[] STAGE_ID = JsonLine.ascii("},\"stage_id\":");
    private static final byte[] STAGE_ATTEMPT = JsonLine.ascii(",\"stage_attempt\":");
    static final byte[] HEARTBEAT = JsonLine.ascii(",\"source\":\"heartbeat\"}");
    static final byte[] STAGE = JsonLine.ascii(",\"source\":\"stage\"}");
    static final byte[] TASK = JsonLine.ascii(",\"source\":\"task\"}");

    /**
     * Appends an executor_metrics line (without its newline): the values above 0, in {@link #NAMES}
     * order. {@code source} is {@link #HEARTBEAT}, {@link #STAGE} or {@link #TASK}.
     */
    static void encode(JsonLine out, String execId, long[] values, int stageId, int stageAttempt, byte[] source) {
        out.raw(HEAD).str(execId).raw(METRICS);
        boolean first = true;
        for (int i = 0; i < values.length; i++) {
            long v = values[i];
            if (v > 0) {
                out.raw(first ? FIRST_KEYS[i] : KEYS[i]).num(v);
                first = false;
            }
        }
        out.raw(STAGE_ID).num(stageId).raw(STAGE_ATTEMPT).num(stageAttempt).raw(source);
    }

    /** One executor_metrics line of its own (heartbeats and stage peaks: rare events), or null with no value above 0. */
    static byte[] line(String execId, ExecutorMetrics m, int stageId, int stageAttempt, byte[] source)
            throws Exception {
        long[] values = newValues();
        if (!copy(m, values)) {
            return null;
        }
        JsonLine j = new JsonLine(640);
        encode(j, execId, values, stageId, stageAttempt, source);
        return j.toBytes();
    }

    /** {@code ExecutorMetricType.metricToOffset} (a Scala mutable map), or null. */
    private static Object offsets() {
        try {
            Class<?> c = Class.forName("org.apache.spark.metrics.ExecutorMetricType$");
            return c.getMethod("metricToOffset").invoke(c.getField("MODULE$").get(null));
        } catch (Throwable t) {
            return null; // no executor metrics in this Spark: nothing is ever sent
        }
    }

    /** The index of {@code name} in Spark's array, -1 when absent (looked up once, by reflection: Scala-version neutral). */
    private static int offset(Object offsets, String name) {
        try {
            Object o = ScalaCompat.opt((scala.Option<?>) offsets.getClass().getMethod("get", Object.class)
                    .invoke(offsets, name), null);
            return o instanceof Number ? ((Number) o).intValue() : -1;
        } catch (Throwable t) {
            return -1;
        }
    }

    private static Field valuesField() {
        try {
            Field f = ExecutorMetrics.class.getDeclaredField("metrics");
            if (f.getType() != long[].class) {
                return null;
            }
            f.setAccessible(true);
            return f;
        } catch (Throwable t) {
            return null;
        }
    }
}
