import java.io.BufferedInputStream;
import java.io.FileInputStream;
import java.io.InputStream;
import java.lang.management.ManagementFactory;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkFirehoseListener;
import org.apache.spark.scheduler.ReplayListenerBus;
import org.apache.spark.scheduler.SparkListenerEvent;
import org.apache.spark.status.AppStatusListener;
import org.apache.spark.status.ElementTrackingStore;
import org.apache.spark.util.kvstore.InMemoryStore;

/**
 * Spark's own replay of an event log, timed: what the History Server does to load an application.
 *
 * <pre>
 *   java -cp classes:$PYSPARK/jars/* SparkReplay parse  LOG   # ReplayListenerBus, a counting listener only
 *   java -cp classes:$PYSPARK/jars/* SparkReplay status LOG   # + AppStatusListener into an in-memory store
 * </pre>
 *
 * {@code parse} is the floor of any replay: read each line, parse it with Spark's JsonProtocol, post
 * it. {@code status} adds what the History Server builds from it (AppStatusListener, live=false, into
 * an ElementTrackingStore over an InMemoryStore, as FsHistoryProvider does for an in-memory store).
 * Prints one JSON line: events posted, replay wall and CPU seconds (this JVM, replay only), heap used.
 */
public final class SparkReplay {
    static final class Counter extends SparkFirehoseListener {
        long events;

        @Override
        public void onEvent(SparkListenerEvent event) {
            events++;
        }
    }

    public static void main(String[] args) throws Exception {
        String mode = args[0];
        String path = args[1];
        com.sun.management.OperatingSystemMXBean os =
                (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
        long cpu0 = os.getProcessCpuTime();
        long t0 = System.nanoTime();
        ReplayListenerBus bus = new ReplayListenerBus();
        Counter counter = new Counter();
        bus.addListener(counter);
        ElementTrackingStore store = null;
        if (mode.equals("status")) {
            SparkConf conf = new SparkConf(false);
            store = new ElementTrackingStore(new InMemoryStore(), conf);
            bus.addListener(new AppStatusListener(store, conf, false, scala.Option.empty(), scala.Option.empty()));
        } else if (!mode.equals("parse")) {
            throw new IllegalArgumentException("mode is parse or status, not " + mode);
        }
        boolean ok;
        try (InputStream in = new BufferedInputStream(new FileInputStream(path), 1 << 20)) {
            ok = bus.replay(in, path, false, ReplayListenerBus.SELECT_ALL_FILTER());
        }
        if (store != null) {
            store.close(false);
        }
        long t1 = System.nanoTime();
        long cpu1 = os.getProcessCpuTime();
        Runtime rt = Runtime.getRuntime();
        System.out.printf(
                "{\"mode\":\"%s\",\"ok\":%s,\"events\":%d,\"skipped_lines\":%d,\"replay_wall_s\":%.3f,"
                        + "\"replay_cpu_s\":%.3f,\"heap_used_mib\":%.1f}%n",
                mode, ok, counter.events, bus.numSkippedLines(), (t1 - t0) / 1e9, (cpu1 - cpu0) / 1e9,
                (rt.totalMemory() - rt.freeMemory()) / 1048576.0);
    }
}
