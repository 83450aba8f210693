package io.sparkprobe;

import java.io.InputStream;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.apache.spark.SparkConf;
import org.apache.spark.Success$;
import org.apache.spark.executor.ExecutorMetrics;
import org.apache.spark.executor.TaskMetrics;
import org.apache.spark.scheduler.SparkListenerBlockUpdated;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.scheduler.SparkListenerTaskStart;
import org.apache.spark.scheduler.TaskInfo;
import org.apache.spark.scheduler.TaskLocality;
import org.apache.spark.storage.BlockManagerId;
import org.apache.spark.storage.BlockUpdatedInfo;
import org.apache.spark.storage.RDDBlockId;
import org.apache.spark.storage.StorageLevel;

/**
 * Throughput of the listener's path: capture + non-blocking offer on the bus thread, encoding on the
 * consumer thread.
 *
 * <pre>
 *   offer     [seconds]          one thread calls onTaskStart/onTaskEnd/onBlockUpdated as fast as it
 *                                can; a second thread drains the listener's queue, encodes every
 *                                event into its wire line (as the sender does) and discards the lines;
 *                                reported per CPU-second of the calling thread and of both threads
 *   e2e       [seconds]          the same, but the listener's own sender thread writes to a TCP reader
 *   sustained [rate] [seconds]   sender to the TCP reader at `rate` events/s; reports drops
 * </pre>
 *
 * Events are built with Spark's public constructors and realistic values (task metrics filled in).
 * The reader is in this JVM: it answers the hello and discards lines, counting them. The class sits
 * in package io.sparkprobe only to reach the listener's package-private benchmark hook (offer mode).
 */
public final class EncodeBench {
    private static final int N = 4096; // distinct events per kind, cycled

    public static void main(String[] args) throws Exception {
        String mode = args.length > 0 ? args[0] : "offer";
        Reader reader = new Reader();
        reader.start();
        SparkConf conf = new SparkConf(false)
                .set("spark.app.id", "app-bench-0000")
                .set("spark.sparkprobe.endpoint", "127.0.0.1:" + reader.port())
                .set("spark.master", "local-cluster[2,1,1024]");
        boolean tcp = !mode.equals("offer");
        ProbeListener listener = new ProbeListener(conf, tcp);
        Events ev = new Events();
        if (tcp) {
            waitConnected(listener);
        } else {
            startDrainer(listener);
        }
        System.out.printf("java %s, %d cpus, mode %s%n", System.getProperty("java.version"),
                Runtime.getRuntime().availableProcessors(), mode);
        if (!mode.equals("sustained")) {
            int seconds = args.length > 1 ? Integer.parseInt(args[1]) : 5;
            run(listener, ev, 2); // warm-up (JIT)
            double[] rates = new double[3];
            double[] cpuRates = new double[3];
            ThreadMXBean mx = ManagementFactory.getThreadMXBean();
            double[] pathRates = new double[3];
            for (int r = 0; r < rates.length; r++) {
                long off0 = listener.offeredEvents(), drop0 = listener.droppedEvents(), ns0 = listener.processingNanos();
                long cpu0 = mx.getCurrentThreadCpuTime();
                long enc0 = drainerThread == null ? 0 : mx.getThreadCpuTime(drainerThread.getId());
                long drained0 = drained.get();
                long n = run(listener, ev, seconds);
                rates[r] = n / (double) seconds;
                // Per CPU-second of the calling thread: what the bus thread pays when it has a core to itself.
                long busCpu = mx.getCurrentThreadCpuTime() - cpu0;
                cpuRates[r] = n / (busCpu / 1e9);
                if (drainerThread != null) {
                    // The whole path on one core: the bus thread's CPU per offered event plus the
                    // drainer's per event it took (drain + encode; events the full queue refused were
                    // never encoded, so they must not dilute the encoding cost).
                    long encCpu = mx.getThreadCpuTime(drainerThread.getId()) - enc0;
                    long took = Math.max(1, drained.get() - drained0);
                    pathRates[r] = 1e9 / (busCpu / (double) n + encCpu / (double) took);
                }
                String path = drainerThread == null ? "" // e2e: the sender thread encodes; see the reader's count
                        : String.format("%,.0f per CPU-second of calling + encoding threads, ", pathRates[r]);
                System.out.printf("round %d: %,.0f events/s wall, %,.0f events per CPU-second of the calling thread, "
                                + "%s%.0f ns/event inside on*, dropped %,d of %,d%n",
                        r + 1, rates[r], cpuRates[r], path, (listener.processingNanos() - ns0) / (double) n,
                        listener.droppedEvents() - drop0, listener.offeredEvents() - off0);
            }
            Arrays.sort(rates);
            Arrays.sort(cpuRates);
            Arrays.sort(pathRates);
            System.out.printf("median: %,.0f events/s wall, %,.0f events/CPU-s on the calling thread%s%n", rates[1],
                    cpuRates[1], drainerThread == null ? "" : String.format(", %,.0f events/CPU-s with encoding", pathRates[1]));
        } else {
            int rate = args.length > 1 ? Integer.parseInt(args[1]) : 100_000;
            int seconds = args.length > 2 ? Integer.parseInt(args[2]) : 10;
            long n = paced(listener, ev, rate, seconds);
            System.out.printf("paced %,d events in %d s (%,d/s target)%n", n, seconds, rate);
        }
        if (tcp) {
            listener.close(); // drains the queue (bounded by closeTimeoutMs) and sends the final stats
            Thread.sleep(300);
            System.out.printf("total offered %,d, dropped %,d, reader received %,d lines (events + stats + preamble)%n",
                    listener.offeredEvents(), listener.droppedEvents(), reader.lines.get());
        } else {
            System.out.printf("total offered %,d, dropped %,d, drained %,d%n",
                    listener.offeredEvents(), listener.droppedEvents(), drained.get());
        }
    }

    private static final AtomicLong drained = new AtomicLong();
    private static volatile Thread drainerThread;

    /** The cheapest consumer that still does the sender's work: takes events off, encodes, forgets. */
    private static void startDrainer(final ProbeListener l) {
        Thread t = new Thread("bench-drainer") {
            @Override
            public void run() {
                List<String> batch = new ArrayList<String>(1024);
                while (true) {
                    int n = l.drainQueued(batch, 1024);
                    batch.clear();
                    drained.addAndGet(n);
                    if (n < 1024) {
                        LockSupport.parkNanos(100_000);
                    }
                }
            }
        };
        t.setDaemon(true);
        drainerThread = t;
        t.start();
    }

    /** Calls the three on* methods round-robin for `seconds`; returns the number of events. */
    private static long run(ProbeListener l, Events ev, int seconds) {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        long n = 0;
        int i = 0;
        while (true) {
            for (int k = 0; k < 256; k++) {
                int j = i++ & (N - 1);
                l.onTaskStart(ev.starts[j]);
                l.onTaskEnd(ev.ends[j]);
                l.onBlockUpdated(ev.blocks[j]);
            }
            n += 3 * 256;
            if (System.nanoTime() - end >= 0) {
                return n;
            }
        }
    }

    /** Emits `rate` events/s in 1 ms slices for `seconds`. */
    private static long paced(ProbeListener l, Events ev, int rate, int seconds) {
        long perMs = Math.max(1, rate / 1000);
        long start = System.nanoTime();
        long n = 0;
        int i = 0;
        for (long ms = 0; ms < seconds * 1000L; ms++) {
            for (long k = 0; k < perMs; k++) {
                int j = i++ & (N - 1);
                switch ((int) (n % 3)) {
                    case 0: l.onTaskStart(ev.starts[j]); break;
                    case 1: l.onTaskEnd(ev.ends[j]); break;
                    default: l.onBlockUpdated(ev.blocks[j]);
                }
                n++;
            }
            long next = start + TimeUnit.MILLISECONDS.toNanos(ms + 1);
            long wait;
            while ((wait = next - System.nanoTime()) > 0) {
                LockSupport.parkNanos(wait);
            }
        }
        return n;
    }

    private static void waitConnected(ProbeListener l) throws InterruptedException {
        for (int i = 0; i < 200 && !l.isConnected(); i++) {
            Thread.sleep(10);
        }
        if (!l.isConnected()) {
            throw new IllegalStateException("listener did not connect to the bench reader");
        }
    }

    /** Realistic events built with Spark's constructors. */
    static final class Events {
        final SparkListenerTaskStart[] starts = new SparkListenerTaskStart[N];
        final SparkListenerTaskEnd[] ends = new SparkListenerTaskEnd[N];
        final SparkListenerBlockUpdated[] blocks = new SparkListenerBlockUpdated[N];

        Events() {
            long t0 = 1795489278997L;
            for (int i = 0; i < N; i++) {
                String exec = Integer.toString(1 + i % 16);
                String host = "ip-10-0-" + (i % 16) + "-17.eu-west-1.compute.internal";
                TaskInfo info = new TaskInfo(100_000L + i, i % 200, 0, i % 200, t0 + i, exec, host,
                        TaskLocality.PROCESS_LOCAL(), false);
                starts[i] = new SparkListenerTaskStart(7, 0, info);
                TaskInfo done = new TaskInfo(100_000L + i, i % 200, 0, i % 200, t0 + i, exec, host,
                        TaskLocality.PROCESS_LOCAL(), false);
                done.markFinished(org.apache.spark.TaskState.FINISHED(), t0 + i + 2872);
                TaskMetrics m = new TaskMetrics();
                m.setExecutorRunTime(2142 + i);
                m.setExecutorCpuTime(337458524L + i);
                m.setJvmGCTime(28);
                m.setPeakExecutionMemory(64L << 20);
                m.incMemoryBytesSpilled(i * 1024L);
                m.incDiskBytesSpilled(i * 512L);
                m.shuffleReadMetrics().setRemoteBytesRead(12_345_678L + i);
                m.shuffleReadMetrics().setLocalBytesRead(2_345_678L);
                m.shuffleWriteMetrics().incBytesWritten(9_876_543L + i);
                m.inputMetrics().setBytesRead(134_217_728L);
                m.outputMetrics().setBytesWritten(0);
                ends[i] = new SparkListenerTaskEnd(7, 0, "ResultTask", Success$.MODULE$, done,
                        new ExecutorMetrics(), m);
                BlockManagerId bm = BlockManagerId.apply(exec, host, 40000 + i % 16, scala.Option.<String>empty());
                blocks[i] = new SparkListenerBlockUpdated(new BlockUpdatedInfo(bm, new RDDBlockId(12, i),
                        StorageLevel.MEMORY_AND_DISK(), 24_117_248L + i, 0L));
            }
        }
    }

    /** A discard-all agent: answers the hello, then counts and drops lines. */
    static final class Reader extends Thread {
        final AtomicLong lines = new AtomicLong();
        private final ServerSocket server;

        Reader() throws Exception {
            super("bench-reader");
            setDaemon(true);
            server = new ServerSocket(0, 8, InetAddress.getLoopbackAddress());
        }

        int port() {
            return server.getLocalPort();
        }

        @Override
        public void run() {
            byte[] buf = new byte[256 * 1024];
            while (true) {
                try (Socket s = server.accept()) {
                    InputStream in = s.getInputStream();
                    OutputStream out = s.getOutputStream();
                    int b;
                    while ((b = in.read()) != -1 && b != '\n') {
                        // skip the hello line
                    }
                    out.write("{\"ok\": true}\n".getBytes(StandardCharsets.UTF_8));
                    out.flush();
                    int n;
                    while ((n = in.read(buf)) > 0) {
                        long c = 0;
                        for (int i = 0; i < n; i++) {
                            if (buf[i] == '\n') {
                                c++;
                            }
                        }
                        lines.addAndGet(c);
                    }
                } catch (Exception e) {
                    return;
                }
            }
        }
    }
}
