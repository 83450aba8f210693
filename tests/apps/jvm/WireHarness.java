package io.sparkprobe;

import java.io.ByteArrayOutputStream;
import java.lang.reflect.Constructor;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;
import org.apache.spark.Resubmitted$;
import org.apache.spark.SparkConf;
import org.apache.spark.Success$;
import org.apache.spark.TaskEndReason;
import org.apache.spark.TaskResultLost$;
import org.apache.spark.UnknownReason$;
import org.apache.spark.executor.ExecutorMetrics;
import org.apache.spark.executor.TaskMetrics;
import org.apache.spark.rdd.DeterministicLevel$;
import org.apache.spark.rdd.RDDOperationScope;
import org.apache.spark.resource.ExecutorResourceRequests;
import org.apache.spark.resource.ResourceInformation;
import org.apache.spark.resource.ResourceProfile;
import org.apache.spark.resource.ResourceProfileBuilder;
import org.apache.spark.resource.TaskResourceRequests;
import org.apache.spark.scheduler.JobFailed;
import org.apache.spark.scheduler.JobSucceeded$;
import org.apache.spark.scheduler.SparkListenerApplicationEnd;
import org.apache.spark.scheduler.SparkListenerApplicationStart;
import org.apache.spark.scheduler.SparkListenerBlockManagerAdded;
import org.apache.spark.scheduler.SparkListenerBlockManagerRemoved;
import org.apache.spark.scheduler.SparkListenerBlockUpdated;
import org.apache.spark.scheduler.SparkListenerExecutorAdded;
import org.apache.spark.scheduler.SparkListenerExecutorMetricsUpdate;
import org.apache.spark.scheduler.SparkListenerExecutorRemoved;
import org.apache.spark.scheduler.SparkListenerResourceProfileAdded;
import org.apache.spark.scheduler.SparkListenerStageExecutorMetrics;
import org.apache.spark.scheduler.SparkListenerJobEnd;
import org.apache.spark.scheduler.SparkListenerJobStart;
import org.apache.spark.scheduler.SparkListenerStageCompleted;
import org.apache.spark.scheduler.SparkListenerStageSubmitted;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.scheduler.SparkListenerTaskStart;
import org.apache.spark.scheduler.SparkListenerUnpersistRDD;
import org.apache.spark.scheduler.StageInfo;
import org.apache.spark.scheduler.TaskInfo;
import org.apache.spark.scheduler.TaskLocality;
import org.apache.spark.scheduler.cluster.ExecutorInfo;
import org.apache.spark.storage.BlockManagerId;
import org.apache.spark.storage.BlockUpdatedInfo;
import org.apache.spark.storage.RDDBlockId;
import org.apache.spark.storage.RDDInfo;
import org.apache.spark.storage.StorageLevel;

/**
 * Test harness for tests/sources/test_listener_encoding.py: feeds Spark events, built with Spark's own
 * constructors, through the real listener jar's {@code on*} methods and prints the exact bytes the
 * sender would write for each, one {@code label TAB hex} line per event, into a file.
 *
 * <p>Input (argument 1): a file of test strings, one per line, each as hex of its UTF-16 code units
 * (so that unpaired surrogates survive the trip). Argument 2: a file of test integers, one per line.
 * Argument 3: the output file (stdout carries Spark's own logging).
 * String k goes into every string field of the k-th group of events, integer {@code numbers[(k + j)
 * % n]} into its j-th numeric field, in the order the test documents. The class sits in package
 * io.sparkprobe only to reach the listener's package-private hooks (no sender thread, drain to a
 * stream).
 */
public final class WireHarness {
    private static long[] numbers;

    private WireHarness() {
    }

    public static void main(String[] args) throws Exception {
        List<String> strings = new ArrayList<String>();
        for (String hex : Files.readAllLines(Paths.get(args[0]), StandardCharsets.US_ASCII)) {
            char[] cs = new char[hex.length() / 4];
            for (int i = 0; i < cs.length; i++) {
                cs[i] = (char) Integer.parseInt(hex.substring(4 * i, 4 * i + 4), 16);
            }
            strings.add(new String(cs));
        }
        List<String> numLines = Files.readAllLines(Paths.get(args[1]), StandardCharsets.US_ASCII);
        numbers = new long[numLines.size()];
        for (int i = 0; i < numbers.length; i++) {
            numbers[i] = Long.parseLong(numLines.get(i).trim());
        }
        SparkConf conf = new SparkConf(false).set("spark.app.id", "app-harness").set("spark.sparkprobe.endpoint",
                "127.0.0.1:9").set("spark.eventLog.logStageExecutorMetrics", "true"); // heartbeats' metrics too
        ProbeListener listener = new ProbeListener(conf, false);
        StringBuilder out = new StringBuilder();
        // Spark's executor metric names in its array's order: the test derives each name's value from it.
        out.append("metric_names\t").append(hex(String.join(",", sparkMetricNames()).getBytes(StandardCharsets.UTF_8)))
                .append('\n');
        for (int k = 0; k < strings.size(); k++) {
            String s = strings.get(k);
            emitGroup(listener, out, k, s);
        }
        // Last: the application's end closes the listener.
        listener.onApplicationEnd(appEnd(num(0, 0)));
        drain(listener, out, "app_end");
        SparkConf odd = new SparkConf(false).set("spark.master", strings.get(strings.size() - 1))
                .set("spark.executor.memory", strings.get(0));
        out.append("conf\t").append(hex(Wire.conf(odd))).append('\n');
        JsonLine stats = new JsonLine(64);
        Wire.listenerStats(stats, num(0, 0), num(0, 1), num(0, 2), num(0, 3));
        out.append("listener_stats\t").append(hex(stats.toBytes())).append('\n');
        Files.write(Paths.get(args[2]), out.toString().getBytes(StandardCharsets.US_ASCII));
        if (listener.internalErrors() != 0 || listener.droppedEvents() != 0) {
            throw new IllegalStateException("errors " + listener.internalErrors() + ", dropped "
                    + listener.droppedEvents());
        }
    }

    /** The j-th integer of group k. */
    private static long num(int k, int j) {
        return numbers[(k + j) % numbers.length];
    }

    /** The j-th integer of group k as an int (wrapped, as Java narrows). */
    private static int small(int k, int j) {
        return (int) num(k, j);
    }

    /** The j-th integer of group k if positive, else a positive stand-in (TaskInfo.markFinished asserts time > 0). */
    private static long pos(int k, int j) {
        long n = num(k, j);
        return n > 0 ? n : 1795489278997L + k;
    }

    private static void emitGroup(ProbeListener l, StringBuilder out, int k, String s) throws Exception {
        l.onApplicationStart(new SparkListenerApplicationStart(s, scala.Option.apply("app-" + k), num(k, 0), s,
                scala.Option.apply(s), scala.Option.<scala.collection.Map<String, String>>empty(),
                scala.Option.<scala.collection.Map<String, String>>empty()));
        drain(l, out, "app_start");

        TaskInfo start = new TaskInfo(num(k, 0), small(k, 1), small(k, 2), small(k, 3), num(k, 4), s, s,
                TaskLocality.PROCESS_LOCAL(), k % 2 == 0);
        l.onTaskStart(new SparkListenerTaskStart(small(k, 5), small(k, 6), start));
        drain(l, out, "task_start");

        TaskEndReason[] reasons = {Success$.MODULE$, Resubmitted$.MODULE$, TaskResultLost$.MODULE$,
            UnknownReason$.MODULE$};
        TaskInfo done = new TaskInfo(num(k, 0), small(k, 1), small(k, 2), small(k, 3), num(k, 4), s, s,
                TaskLocality.PROCESS_LOCAL(), k % 2 == 1);
        done.markFinished(org.apache.spark.TaskState.FINISHED(), pos(k, 7));
        TaskMetrics m = new TaskMetrics();
        m.setExecutorRunTime(num(k, 8));
        m.setExecutorCpuTime(num(k, 9));
        m.setJvmGCTime(num(k, 10));
        m.shuffleReadMetrics().setRemoteBytesRead(num(k, 11));
        m.shuffleReadMetrics().setLocalBytesRead(num(k, 12));
        m.shuffleWriteMetrics().incBytesWritten(num(k, 13));
        m.incMemoryBytesSpilled(num(k, 14));
        m.incDiskBytesSpilled(num(k, 15));
        m.inputMetrics().setBytesRead(num(k, 16));
        m.outputMetrics().setBytesWritten(num(k, 17));
        m.setPeakExecutionMemory(num(k, 18));
        l.onTaskEnd(new SparkListenerTaskEnd(small(k, 5), small(k, 6), s, reasons[k % reasons.length], done,
                new ExecutorMetrics(), m));
        drain(l, out, "task_end");
        l.onTaskEnd(new SparkListenerTaskEnd(small(k, 5), small(k, 6), s, reasons[(k + 1) % reasons.length], done,
                new ExecutorMetrics(), null));
        drain(l, out, "task_end_no_metrics");

        BlockManagerId bm = BlockManagerId.apply(s, s, 7337, scala.Option.<String>empty());
        StorageLevel[] levels = {StorageLevel.MEMORY_AND_DISK(), StorageLevel.DISK_ONLY_2(),
            StorageLevel.MEMORY_ONLY_SER(), StorageLevel.OFF_HEAP()};
        l.onBlockUpdated(new SparkListenerBlockUpdated(new BlockUpdatedInfo(bm, new RDDBlockId(small(k, 1),
                small(k, 2)), levels[k % levels.length], num(k, 3), num(k, 4))));
        drain(l, out, "block_updated");

        l.onExecutorAdded(new SparkListenerExecutorAdded(num(k, 0), s, new ExecutorInfo(s, small(k, 1),
                scala.collection.immutable.Map$.MODULE$.<String, String>empty(),
                scala.collection.immutable.Map$.MODULE$.<String, String>empty(),
                scala.collection.immutable.Map$.MODULE$.<String, ResourceInformation>empty(), small(k, 2))));
        drain(l, out, "executor_added");

        // Executor metrics: a task end's peaks (a second line after its task_end), a heartbeat of one
        // stage and of the driver's (-1, -1), a stage's peaks. Spark's j-th metric is number k + j + base.
        l.onTaskEnd(new SparkListenerTaskEnd(small(k, 5), small(k, 6), s, Success$.MODULE$, done,
                metrics(k, 20), null));
        drain(l, out, "task_end_peaks", "executor_metrics_task");
        java.util.LinkedHashMap<scala.Tuple2<Object, Object>, ExecutorMetrics> updates =
                new java.util.LinkedHashMap<scala.Tuple2<Object, Object>, ExecutorMetrics>();
        updates.put(new scala.Tuple2<Object, Object>(small(k, 1), small(k, 2)), metrics(k, 30));
        updates.put(new scala.Tuple2<Object, Object>(-1, -1), metrics(k, 40));
        l.onExecutorMetricsUpdate(new SparkListenerExecutorMetricsUpdate(s, seq(new ArrayList<Object>()),
                scala.collection.JavaConverters.mapAsScalaMap(updates)));
        drain(l, out, "executor_metrics_heartbeat", "executor_metrics_driver");
        l.onStageExecutorMetrics(new SparkListenerStageExecutorMetrics(s, small(k, 3), small(k, 4), metrics(k, 50)));
        drain(l, out, "executor_metrics_stage");

        // A resource profile: the five built-in executor resources, a custom one named after s, task cpus.
        ResourceProfile rp = new ResourceProfileBuilder()
                .require(new ExecutorResourceRequests().cores(k + 1).memory((k + 1) * 1024 + "m")
                        .memoryOverhead((k + 2) + "m").offHeapMemory((k + 3) + "m").pysparkMemory((k + 4) + "m")
                        .resource("gpu" + s, k + 5, "", ""))
                .require(new TaskResourceRequests().cpus(k % 3 + 1))
                .build();
        rp.setResourceProfileId(small(k, 3));
        l.onResourceProfileAdded(new SparkListenerResourceProfileAdded(rp));
        drain(l, out, "resource_profile_added");
        l.onExecutorRemoved(new SparkListenerExecutorRemoved(num(k, 0), s, s));
        drain(l, out, "executor_removed");
        l.onBlockManagerAdded(new SparkListenerBlockManagerAdded(num(k, 0), bm, num(k, 1),
                scala.Option.empty(), scala.Option.empty()));
        drain(l, out, "block_manager_added");
        l.onBlockManagerRemoved(new SparkListenerBlockManagerRemoved(num(k, 0), bm));
        drain(l, out, "block_manager_removed");
        l.onUnpersistRDD(new SparkListenerUnpersistRDD(small(k, 1)));
        drain(l, out, "unpersist_rdd");

        RDDInfo rdd = new RDDInfo(small(k, 1), s, small(k, 2), levels[k % levels.length], false,
                seq(Arrays.<Object>asList(small(k, 3), small(k, 4))), s,
                scala.Option.apply(new RDDOperationScope(s, scala.Option.<RDDOperationScope>empty(), "0")),
                DeterministicLevel$.MODULE$.DETERMINATE());
        rdd.numCachedPartitions_$eq(small(k, 5));
        rdd.memSize_$eq(num(k, 6));
        rdd.diskSize_$eq(num(k, 7));
        StageInfo stage = new StageInfo(small(k, 1), small(k, 2), s, small(k, 3), seq(Arrays.<Object>asList(rdd)),
                seq(new ArrayList<Object>()), s, null, seq(new ArrayList<Object>()), scala.Option.empty(), 0, false, 0);
        stage.submissionTime_$eq(scala.Option.apply((Object) num(k, 4)));
        l.onStageSubmitted(new SparkListenerStageSubmitted(stage, new Properties()));
        drain(l, out, "stage_submitted");
        stage.completionTime_$eq(scala.Option.apply((Object) num(k, 5)));
        stage.failureReason_$eq(scala.Option.apply(s));
        l.onStageCompleted(new SparkListenerStageCompleted(stage));
        drain(l, out, "stage_completed");

        Properties props = new Properties();
        props.setProperty("callSite.short", s);
        // Tenants: tags (a Connect operation's on every third group), job group, pool, streaming.
        props.setProperty("spark.job.tags", " " + s + ",tag-" + k + ", ,"
                + (k % 3 == 0 ? "SparkConnect_OperationTag_User_u_Session_s_Operation_" + k : ""));
        props.setProperty("spark.jobGroup.id", s);
        props.setProperty("spark.scheduler.pool", s);
        props.setProperty("spark.executor.memory", "never read"); // a property that is not sent
        if (k % 3 == 1) {
            props.setProperty("sql.streaming.queryId", s);
        } else if (k % 3 == 2) {
            props.setProperty("spark.streaming.internal.batchTime", "1795489278997");
        }
        l.onJobStart(new SparkListenerJobStart(small(k, 1), num(k, 2), seq(Arrays.<Object>asList(stage)), props));
        drain(l, out, "job_start");
        l.onJobEnd(new SparkListenerJobEnd(small(k, 1), num(k, 3),
                k % 2 == 0 ? JobSucceeded$.MODULE$ : new JobFailed(new RuntimeException(s))));
        drain(l, out, "job_end");

        // Spark Connect's events (Spark 4.x: the classes exist only there, so by reflection).
        Object started = connectEvent("SparkListenerConnectSessionStarted", s, s, num(k, 4),
                scala.collection.immutable.Map$.MODULE$.<String, String>empty());
        if (started != null) {
            l.onOtherEvent((org.apache.spark.scheduler.SparkListenerEvent) started);
            drain(l, out, "session_started");
            l.onOtherEvent((org.apache.spark.scheduler.SparkListenerEvent) connectEvent(
                    "SparkListenerConnectSessionClosed", s, s, num(k, 5),
                    scala.collection.immutable.Map$.MODULE$.<String, String>empty()));
            drain(l, out, "session_closed");
            l.onOtherEvent((org.apache.spark.scheduler.SparkListenerEvent) connectEvent(
                    "SparkListenerConnectServiceStarted", s, 15002, num(k, 6)));
            drain(l, out, "connect_server_started");
        }
    }

    /** A Spark Connect listener event built by its constructor, or null when this Spark has no Connect. */
    private static Object connectEvent(String name, Object... args) throws Exception {
        Class<?> c;
        try {
            c = Class.forName("org.apache.spark.sql.connect.service." + name);
        } catch (ClassNotFoundException e) {
            return null;
        }
        return c.getConstructors()[0].newInstance(args);
    }

    /** ExecutorMetricType's names, in the order of its metrics array. */
    private static List<String> sparkMetricNames() throws Exception {
        Class<?> c = Class.forName("org.apache.spark.metrics.ExecutorMetricType$");
        Object offsets = c.getMethod("metricToOffset").invoke(c.getField("MODULE$").get(null));
        int n = (Integer) c.getMethod("numMetrics").invoke(c.getField("MODULE$").get(null));
        String[] names = new String[n];
        for (Object o : ScalaCompat.toList(offsets)) {
            scala.Tuple2<?, ?> kv = (scala.Tuple2<?, ?>) o;
            names[((Number) kv._2()).intValue()] = (String) kv._1();
        }
        return Arrays.asList(names);
    }

    /** Executor metrics whose j-th value (Spark's order) is number {@code k + base + j}. */
    private static ExecutorMetrics metrics(int k, int base) throws Exception {
        long[] values = new long[sparkMetricNames().size()];
        for (int j = 0; j < values.length; j++) {
            values[j] = num(k, base + j);
        }
        return new ExecutorMetrics(values);
    }

    /** A Scala immutable List (a Seq on Scala 2.12 and 2.13) of the given elements. */
    @SuppressWarnings({"unchecked", "rawtypes", "deprecation"})
    private static <T> scala.collection.immutable.List<T> seq(List<Object> items) {
        return (scala.collection.immutable.List) scala.collection.JavaConverters.asScalaBuffer(items).toList();
    }

    /** SparkListenerApplicationEnd(time) on 3.5, (time, exitCode) on 4.x: the first constructor, None after the time. */
    private static SparkListenerApplicationEnd appEnd(long time) throws Exception {
        for (Constructor<?> c : SparkListenerApplicationEnd.class.getConstructors()) {
            Object[] a = new Object[c.getParameterCount()];
            a[0] = time;
            for (int i = 1; i < a.length; i++) {
                a[i] = scala.Option.empty();
            }
            return (SparkListenerApplicationEnd) c.newInstance(a);
        }
        throw new IllegalStateException("no SparkListenerApplicationEnd constructor");
    }

    /**
     * Moves what the last event queued to {@code out}: one {@code label TAB hex} line per wire line,
     * which must be as many as there are labels.
     */
    private static void drain(ProbeListener l, StringBuilder out, String... labels) throws Exception {
        ByteArrayOutputStream sink = new ByteArrayOutputStream();
        l.drainQueued(sink, 16);
        byte[] bytes = sink.toByteArray();
        if (bytes.length == 0 || bytes[bytes.length - 1] != '\n') {
            throw new IllegalStateException(labels[0] + ": no newline-ended line");
        }
        List<byte[]> lines = new ArrayList<byte[]>();
        int from = 0;
        for (int i = 0; i < bytes.length; i++) {
            if (bytes[i] == '\n') {
                lines.add(Arrays.copyOfRange(bytes, from, i));
                from = i + 1;
            }
        }
        if (lines.size() != labels.length) {
            throw new IllegalStateException(labels[0] + ": " + lines.size() + " lines, expected " + labels.length);
        }
        for (int i = 0; i < labels.length; i++) {
            out.append(labels[i]).append('\t').append(hex(lines.get(i))).append('\n');
        }
    }

    private static String hex(byte[] b) {
        StringBuilder sb = new StringBuilder(2 * b.length);
        for (byte x : b) {
            sb.append(Character.forDigit((x >> 4) & 0xF, 16)).append(Character.forDigit(x & 0xF, 16));
        }
        return sb.toString();
    }
}
