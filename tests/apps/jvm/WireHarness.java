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
import org.apache.spark.scheduler.JobFailed;
import org.apache.spark.scheduler.JobSucceeded$;
import org.apache.spark.scheduler.SparkListenerApplicationEnd;
import org.apache.spark.scheduler.SparkListenerApplicationStart;
import org.apache.spark.scheduler.SparkListenerBlockManagerAdded;
import org.apache.spark.scheduler.SparkListenerBlockManagerRemoved;
import org.apache.spark.scheduler.SparkListenerBlockUpdated;
import org.apache.spark.scheduler.SparkListenerExecutorAdded;
import org.apache.spark.scheduler.SparkListenerExecutorRemoved;
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
                "127.0.0.1:9");
        ProbeListener listener = new ProbeListener(conf, false);
        StringBuilder out = new StringBuilder();
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
                scala.collection.immutable.Map$.MODULE$.<String, String>empty())));
        drain(l, out, "executor_added");
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
        l.onJobStart(new SparkListenerJobStart(small(k, 1), num(k, 2), seq(Arrays.<Object>asList(stage)), props));
        drain(l, out, "job_start");
        l.onJobEnd(new SparkListenerJobEnd(small(k, 1), num(k, 3),
                k % 2 == 0 ? JobSucceeded$.MODULE$ : new JobFailed(new RuntimeException(s))));
        drain(l, out, "job_end");
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

    /** Moves what the last event queued to {@code out}: one {@code label TAB hex} line per wire line. */
    private static void drain(ProbeListener l, StringBuilder out, String label) throws Exception {
        ByteArrayOutputStream sink = new ByteArrayOutputStream();
        int n = l.drainQueued(sink, 16);
        if (n != 1) {
            throw new IllegalStateException(label + ": " + n + " events queued, expected 1");
        }
        byte[] bytes = sink.toByteArray();
        if (bytes.length == 0 || bytes[bytes.length - 1] != '\n') {
            throw new IllegalStateException(label + ": no newline-ended line");
        }
        out.append(label).append('\t').append(hex(Arrays.copyOf(bytes, bytes.length - 1))).append('\n');
    }

    private static String hex(byte[] b) {
        StringBuilder sb = new StringBuilder(2 * b.length);
        for (byte x : b) {
            sb.append(Character.forDigit((x >> 4) & 0xF, 16)).append(Character.forDigit(x & 0xF, 16));
        }
        return sb.toString();
    }
}
