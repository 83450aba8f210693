package io.sparkprobe;

import java.io.InputStream;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
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
        if (mode.equals("bus")) {
            ProbeListener l = new ProbeListener(conf, true);
            waitConnected(l);
            System.out.printf("java %s, %d cpus, mode bus%n", System.getProperty("java.version"),
                    Runtime.getRuntime().availableProcessors());
            Bus.run(l, args.length > 1 ? Integer.parseInt(args[1]) : 2000, args.length > 2 ? Integer.parseInt(args[2]) : 10,
                    args.length > 3 ? Integer.parseInt(args[3]) : 2);
            l.close();
            return;
        }
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
            ThreadMXBean mx = ManagementFactory.getThreadMXBean();
            paced(listener, ev, rate, 5); // warm-up (JIT), as the Spark benchmark's first pass
            long cpu0 = listenerThreadsCpu(mx);
            long n = paced(listener, ev, rate, seconds);
            long cpu = listenerThreadsCpu(mx) - cpu0;
            System.out.printf("paced %,d events in %d s (%,d/s target); the listener's threads' CPU %.3f µs/event, "
                    + "%.1f µs per second%n", n, seconds, rate, cpu / 1e3 / n, cpu / 1e3 / seconds);
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
                OutputStream discard = new OutputStream() {
                    @Override
                    public void write(int b) {
                    }

                    @Override
                    public void write(byte[] b, int off, int len) {
                    }
                };
                while (true) {
                    int n;
                    try {
                        n = l.drainQueued(discard, 1024);
                    } catch (java.io.IOException e) {
                        throw new IllegalStateException(e);
                    }
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

    /** Emits `rate` events/s in 1 ms slices for `seconds` (as many per slice as are due by its end). */
    private static long paced(ProbeListener l, Events ev, int rate, int seconds) {
        long start = System.nanoTime();
        long n = 0;
        int i = 0;
        for (long ms = 0; ms < seconds * 1000L; ms++) {
            long due = (ms + 1) * rate / 1000;
            while (n < due) {
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

    /** CPU nanoseconds of every thread the listener owns ({@code sparkprobe-*}: the sender, the peer watch). */
    private static long listenerThreadsCpu(ThreadMXBean mx) {
        long ns = 0;
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (t.getName().startsWith("sparkprobe-")) {
                ns += Math.max(0, mx.getThreadCpuTime(t.getId()));
            }
        }
        return ns;
    }

    private static void waitConnected(ProbeListener l) throws InterruptedException {
        for (int i = 0; i < 200 && !l.isConnected(); i++) {
            Thread.sleep(10);
        }
        if (!l.isConnected()) {
            throw new IllegalStateException("listener did not connect to the bench reader");
        }
    }

    /**
     * A listener bus in miniature, to see what one {@code on*} call costs when events come one at a
     * time, as on Spark's bus, rather than in a hot loop: a poster thread builds fresh events (new
     * TaskInfo and TaskMetrics each time, as the scheduler does) at {@code rate} per second and hands
     * them to this thread through a LinkedBlockingQueue (as AsyncEventQueue does); this thread takes
     * each and calls ProbeListener and a no-op listener (SparkFirehoseListener), their order swapped
     * every round, timing each call. {@code noise} threads stand in for task threads: they walk a
     * large array half of the time, competing for the cores and the caches.
     */
    static final class Bus {
        /** Bytes of garbage each noise thread allocates per 256 array steps (-Dbench.garbage, default 0). */
        static final int GARBAGE = Integer.getInteger("bench.garbage", 0);

        static void run(ProbeListener probe, int rate, int seconds, int noise) throws Exception {
            final java.util.concurrent.LinkedBlockingQueue<Object> q = new java.util.concurrent.LinkedBlockingQueue<Object>();
            final org.apache.spark.scheduler.SparkListenerInterface noop = new org.apache.spark.SparkFirehoseListener();
            final java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
            for (int i = 0; i < noise; i++) {
                Thread t = new Thread("bench-noise-" + i) {
                    @Override
                    public void run() {
                        long[] a = new long[8 << 20]; // 64 MB
                        long x = 1;
                        Object[] keep = new Object[1024];
                        while (!stop.get()) {
                            long end = System.nanoTime() + 500_000;
                            while (System.nanoTime() < end) {
                                for (int k = 0; k < 256; k++) {
                                    x = x * 6364136223846793005L + 1442695040888963407L;
                                    a[(int) ((x >>> 33) % a.length)] += x;
                                }
                                keep[(int) (x >>> 54)] = new byte[GARBAGE]; // short-lived garbage, as tasks make
                            }
                            LockSupport.parkNanos(500_000);
                        }
                    }
                };
                t.setDaemon(true);
                t.start();
            }
            Thread poster = new Thread("bench-poster") {
                @Override
                public void run() {
                    long start = System.nanoTime();
                    long n = 0;
                    long t0 = 1795489278997L;
                    TaskInfo running = null;
                    while (!stop.get()) {
                        long due = (System.nanoTime() - start) / 1000 * rate / 1_000_000;
                        while (n < due) {
                            String exec = Integer.toString(1 + (int) (n % 2));
                            if (running != null) {
                                running.markFinished(org.apache.spark.TaskState.FINISHED(), t0 + n + 3);
                                TaskMetrics m = new TaskMetrics();
                                m.setExecutorRunTime(3 + n % 7);
                                m.setExecutorCpuTime(2_345_678L + n);
                                m.setJvmGCTime(n % 3);
                                m.setPeakExecutionMemory(0);
                                m.inputMetrics().setBytesRead(8 * (n % 100));
                                m.setResultSize(1500);
                                q.add(new SparkListenerTaskEnd(0, 0, "ResultTask", Success$.MODULE$, running,
                                        new ExecutorMetrics(), m));
                                n++;
                                running = null;
                            } else {
                                running = new TaskInfo(n, (int) (n % 3000), 0, (int) (n % 3000), t0 + n, exec,
                                        "localhost", TaskLocality.PROCESS_LOCAL(), false);
                                q.add(new SparkListenerTaskStart(0, 0, running));
                                n++;
                            }
                        }
                        LockSupport.parkNanos(200_000);
                    }
                }
            };
            poster.setDaemon(true);
            poster.start();
            ThreadMXBean mx = ManagementFactory.getThreadMXBean();
            for (int round = -1; round < 2 * 2; round++) { // round -1: warm-up
                boolean probeFirst = round % 2 == 0;
                long[] probeNs = new long[rate * seconds + 16];
                long[] noopNs = new long[probeNs.length];
                int count = 0;
                long off0 = probe.offeredEvents(), cpu0 = listenerThreadsCpu(mx), ns0 = probe.processingNanos();
                long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(round < 0 ? 5 : seconds);
                while (System.nanoTime() < end && count < probeNs.length) {
                    Object e = q.poll(100, TimeUnit.MILLISECONDS);
                    if (e == null) {
                        continue;
                    }
                    if (probeFirst) {
                        probeNs[count] = post(probe, e);
                        noopNs[count] = post(noop, e);
                    } else {
                        noopNs[count] = post(noop, e);
                        probeNs[count] = post(probe, e);
                    }
                    count++;
                }
                long offered = probe.offeredEvents() - off0;
                long cpu = listenerThreadsCpu(mx) - cpu0;
                if (round >= 0) {
                    System.out.printf("round %d (%s first): %d events; on* wall mean/p50/p99/p99.9 µs: ProbeListener "
                                    + "%s, no-op %s; processingNanos/offered %.2f µs; the listener's threads' CPU %.2f µs/event%n",
                            round + 1, probeFirst ? "ProbeListener" : "no-op", count, stats(probeNs, count),
                            stats(noopNs, count), (probe.processingNanos() - ns0) / 1e3 / offered, cpu / 1e3 / offered);
                }
            }
            stop.set(true);
        }

        private static long post(org.apache.spark.scheduler.SparkListenerInterface l, Object e) {
            long t0 = System.nanoTime();
            if (e instanceof SparkListenerTaskEnd) {
                l.onTaskEnd((SparkListenerTaskEnd) e);
            } else {
                l.onTaskStart((SparkListenerTaskStart) e);
            }
            return System.nanoTime() - t0;
        }

        private static String stats(long[] ns, int n) {
            long[] s = Arrays.copyOf(ns, n);
            Arrays.sort(s);
            double sum = 0;
            for (long v : s) {
                sum += v;
            }
            return String.format("%.2f/%.2f/%.2f/%.1f", sum / n / 1e3, s[n / 2] / 1e3, s[(int) (n * 0.99)] / 1e3,
                    s[(int) (n * 0.999)] / 1e3);
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
