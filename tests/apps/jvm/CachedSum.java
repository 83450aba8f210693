package sparkprobe.testapps;

import java.util.ArrayList;
import java.util.List;

import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.storage.RDDInfo;
import org.apache.spark.storage.StorageLevel;

/**
 * A JVM Spark application that caches data, for sparkprobe's cluster-deploy-mode and failover tests:
 * caches the squares of 1..N (MEMORY_ONLY) over a given number of partitions, sums them twice (the
 * second time from the cache), then, when asked, waits so a test can act while the app runs.
 * Prints what Spark itself reports (app id, deploy mode, driver host, the cache as
 * {@code getRDDStorageInfo} reports it) for the test to compare.
 */
public final class CachedSum {
    private CachedSum() {
    }

    public static void main(String[] args) throws InterruptedException {
        int partitions = args.length > 0 ? Integer.parseInt(args[0]) : 4;
        long holdMs = args.length > 1 ? Long.parseLong(args[1]) : 0;
        int n = 40000;
        JavaSparkContext jsc = new JavaSparkContext(new SparkConf().setAppName("sparkprobe-cached-sum"));
        try {
            System.out.println("APP ID " + jsc.sc().applicationId());
            System.out.println("DEPLOY MODE " + jsc.getConf().get("spark.submit.deployMode", "client"));
            System.out.println("DRIVER HOST " + jsc.getConf().get("spark.driver.host", ""));
            List<Long> numbers = new ArrayList<>(n);
            for (long i = 1; i <= n; i++) {
                numbers.add(i);
            }
            JavaRDD<Long> squares = jsc.parallelize(numbers, partitions).map(x -> x * x).persist(StorageLevel.MEMORY_ONLY());
            long first = squares.reduce((a, b) -> a + b);
            long second = squares.reduce((a, b) -> a + b);
            System.out.println("SUM OF SQUARES " + first + " " + second);
            long mem = 0;
            int cached = 0;
            for (RDDInfo info : jsc.sc().getRDDStorageInfo()) {
                mem += info.memSize();
                cached += info.numCachedPartitions();
            }
            System.out.println("CACHED " + cached + " " + mem);
            System.out.flush();
            if (holdMs > 0) {
                Thread.sleep(holdMs);
            }
        } finally {
            jsc.stop();
        }
    }
}
