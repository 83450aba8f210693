package sparkprobe.testapps;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import org.apache.spark.SparkConf;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerExecutorAdded;
import org.apache.spark.scheduler.SparkListenerExecutorRemoved;

/**
 * A JVM Spark application for sparkprobe's executor-fault test: the sum of the squares of 1..N over
 * four partitions, where the first attempt of partition 0 fills its executor's heap until the JVM
 * throws {@code java.lang.OutOfMemoryError}. Spark's executor treats that as fatal and exits (its
 * uncaught exception handler, exit code 52); the task is retried and the job finishes.
 *
 * <p>Argument: the number of executors to wait for before and after the job (default 2). Prints
 * {@code APP ID <id>}, {@code SUM OF SQUARES <sum>}, {@code EXECUTORS REMOVED <n>} and
 * {@code EXECUTORS NOW <n>} (registered once the dead executor was replaced).
 */
public final class ExecutorOom {
    private static final long N = 40_000L;
    private static final long WAIT_MS = 120_000L;

    private ExecutorOom() {
    }

    public static void main(String[] args) throws InterruptedException {
        int executors = args.length > 0 ? Integer.parseInt(args[0]) : 2;
        JavaSparkContext jsc = new JavaSparkContext(new SparkConf().setAppName("sparkprobe-executor-oom"));
        AtomicInteger added = new AtomicInteger();
        AtomicInteger removed = new AtomicInteger();
        jsc.sc().addSparkListener(new SparkListener() {
            @Override
            public void onExecutorAdded(SparkListenerExecutorAdded event) {
                added.incrementAndGet();
            }

            @Override
            public void onExecutorRemoved(SparkListenerExecutorRemoved event) {
                removed.incrementAndGet();
            }
        });
        try {
            System.out.println("APP ID " + jsc.sc().applicationId());
            waitExecutors(jsc, executors, 0, added, removed);
            List<Long> numbers = new ArrayList<>((int) N);
            for (long i = 1; i <= N; i++) {
                numbers.add(i);
            }
            long total = jsc.parallelize(numbers, 4)
                .mapPartitionsWithIndex((Integer index, Iterator<Long> rows) -> {
                    if (index == 0 && TaskContext.get().attemptNumber() == 0) {
                        exhaustHeap();
                    }
                    long sum = 0;
                    while (rows.hasNext()) {
                        long x = rows.next();
                        sum += x * x;
                    }
                    return Collections.singletonList(sum).iterator();
                }, false)
                .reduce(Long::sum);
            System.out.println("SUM OF SQUARES " + total);
            // The job can end before the driver learns that the executor died (the retry is quick,
            // the dying JVM runs its shutdown hooks): the application goes on until the executor is
            // removed and the master has replaced it, so that both are part of the application.
            int now = waitExecutors(jsc, executors, 1, added, removed);
            System.out.println("EXECUTORS REMOVED " + removed.get());
            System.out.println("EXECUTORS NOW " + now);
        } finally {
            jsc.stop();
        }
    }

    /** Registered executors (block managers, the driver's excluded). */
    private static int registered(JavaSparkContext jsc) {
        return jsc.sc().getExecutorMemoryStatus().size() - 1;
    }

    /**
     * Wait (bounded) until at least {@code gone} executors were removed and {@code n} are registered,
     * as block managers and as listener events; return how many are registered then.
     *
     * <p>The listener events count because the block managers alone can race: the dead executor's
     * block manager may still be registered after its removal was posted, and then the count says 2
     * before the replacement came (the event log then had 2 executors added, not 3).
     */
    private static int waitExecutors(JavaSparkContext jsc, int n, int gone, AtomicInteger added,
            AtomicInteger removed) throws InterruptedException {
        long deadline = System.currentTimeMillis() + WAIT_MS;
        while ((removed.get() < gone || registered(jsc) < n || added.get() - removed.get() < n)
                && System.currentTimeMillis() < deadline) {
            Thread.sleep(100);
        }
        return registered(jsc);
    }

    /** Allocate and keep 8 MB arrays until the heap is exhausted: a real OutOfMemoryError. */
    private static void exhaustHeap() {
        List<long[]> hog = new ArrayList<>();
        while (true) {
            hog.add(new long[1 << 20]);
        }
    }
}
