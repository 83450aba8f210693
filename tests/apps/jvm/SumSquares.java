package sparkprobe.testapps;

import java.util.ArrayList;
import java.util.List;

import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;

/**
 * A small JVM Spark application for sparkprobe's submit test (used when the pyspark wheel ships no
 * examples jar): the sum of the squares of 1..N over a given number of partitions.
 */
public final class SumSquares {
    private SumSquares() {
    }

    public static void main(String[] args) {
        int partitions = args.length > 0 ? Integer.parseInt(args[0]) : 4;
        int n = 20000;
        JavaSparkContext jsc = new JavaSparkContext(new SparkConf().setAppName("sparkprobe-submit-jvm"));
        try {
            List<Long> numbers = new ArrayList<>(n);
            for (long i = 1; i <= n; i++) {
                numbers.add(i);
            }
            long total = jsc.parallelize(numbers, partitions).map(x -> x * x).reduce((a, b) -> a + b);
            System.out.println("SUM OF SQUARES " + total);
        } finally {
            jsc.stop();
        }
    }
}
