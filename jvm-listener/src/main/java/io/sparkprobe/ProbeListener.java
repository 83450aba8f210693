package io.sparkprobe;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkContext;
import org.apache.spark.SparkEnv;
import org.apache.spark.executor.ExecutorMetrics;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerApplicationEnd;
import org.apache.spark.scheduler.SparkListenerApplicationStart;
import org.apache.spark.scheduler.SparkListenerBlockManagerAdded;
import org.apache.spark.scheduler.SparkListenerBlockManagerRemoved;
import org.apache.spark.scheduler.SparkListenerBlockUpdated;
import org.apache.spark.scheduler.SparkListenerEvent;
import org.apache.spark.scheduler.SparkListenerExecutorAdded;
import org.apache.spark.scheduler.SparkListenerExecutorMetricsUpdate;
import org.apache.spark.scheduler.SparkListenerExecutorRemoved;
import org.apache.spark.scheduler.SparkListenerJobEnd;
import org.apache.spark.scheduler.SparkListenerJobStart;
import org.apache.spark.scheduler.SparkListenerStageCompleted;
import org.apache.spark.scheduler.SparkListenerResourceProfileAdded;
import org.apache.spark.scheduler.SparkListenerStageExecutorMetrics;
import org.apache.spark.scheduler.SparkListenerStageSubmitted;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.scheduler.SparkListenerTaskStart;
import org.apache.spark.scheduler.SparkListenerUnpersistRDD;
import org.apache.spark.storage.BlockUpdatedInfo;
import org.apache.spark.storage.RDDBlockId;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Spark listener that streams wire v1 lines (docs/wire-format.md) to the sparkprobe agent.
 *
 * <p>Register with {@code spark.extraListeners=io.sparkprobe.ProbeListener}, or late through
 * {@link #bootstrap} + {@code SparkContext.addSparkListener}. Each {@code on*} method only offers the
 * event to a bounded queue ({@link Sender}): task starts, task ends and block updates (nearly all
 * events) as a small {@link Captured} copy that the sender thread encodes, the rare others as their
 * JSON line. It never throws, never blocks (except the bounded drain at application end) and does
 * no I/O.
 */
public class ProbeListener extends SparkListener {
    private static final Logger LOG = LoggerFactory.getLogger(ProbeListener.class);

    /** The only Spark properties sent (invariant 6); the same list as {@code sparkprobe.events.CONF_KEYS}. */
    static final String[] CONF_KEYS = {
        "spark.master",
        "spark.dynamicAllocation.enabled",
        "spark.dynamicAllocation.minExecutors",
        "spark.dynamicAllocation.maxExecutors",
        "spark.dynamicAllocation.initialExecutors",
        "spark.dynamicAllocation.executorIdleTimeout",
        "spark.dynamicAllocation.cachedExecutorIdleTimeout",
        "spark.dynamicAllocation.shuffleTracking.enabled",
        "spark.dynamicAllocation.shuffleTracking.timeout",
        "spark.shuffle.service.enabled",
        "spark.executor.instances",
        "spark.executor.cores",
        "spark.executor.memory",
        "spark.task.cpus",
        "spark.decommission.enabled",
        "spark.storage.decommission.enabled",
        "spark.storage.decommission.rddBlocks.enabled",
        "spark.storage.decommission.shuffleBlocks.enabled",
        "spark.dynamicAllocation.schedulerBacklogTimeout",
        "spark.dynamicAllocation.sustainedSchedulerBacklogTimeout",
        "spark.dynamicAllocation.executorAllocationRatio",
        "spark.submit.deployMode",
        "spark.executor.memoryOverhead",
        "spark.executor.memoryOverheadFactor",
        "spark.executor.minMemoryOverhead",
        "spark.kubernetes.memoryOverheadFactor",
        "spark.yarn.executor.memoryOverhead",
        "spark.memory.offHeap.enabled",
        "spark.memory.offHeap.size",
        "spark.executor.pyspark.memory",
        "spark.executor.processTreeMetrics.enabled",
        "spark.driver.memory",
        "spark.driver.memoryOverhead",
        "spark.driver.memoryOverheadFactor",
        "spark.driver.minMemoryOverhead",
        "spark.yarn.driver.memoryOverhead",
        "spark.driver.cores",
        "spark.yarn.queue",
        "spark.kubernetes.namespace",
        "spark.sparkprobe.idleThreshold",
        "spark.sparkprobe.price.coreHour",
        "spark.sparkprobe.price.gibHour",
    };

    /** org.apache.spark.SPARK_VERSION: a Scala package-object member, reachable from Java only by reflection. */
    static final String SPARK_VERSION = sparkVersion();

    private final AtomicLong internalErrors = new AtomicLong();
    private final AtomicBoolean warnedError = new AtomicBoolean();
    private volatile ProbeConfig config;
    private volatile Sender sender;

    /** Used by Spark for {@code spark.extraListeners} and by the Python attach bridge. */
    public ProbeListener(SparkConf conf) {
        this(conf, true);
    }

    /** With {@code connect=false} the sender thread is not started: the benchmark drains the queue itself. */
    ProbeListener(SparkConf conf, boolean connect) {
        try {
            init(conf, connect);
        } catch (Throwable t) {
            internalError(t);
        }
    }

    /** Reads the conf lazily, on the first event, from {@code SparkEnv.get()} (defaults when absent). */
    public ProbeListener() {
    }

    private synchronized Sender init(SparkConf conf, boolean connect) {
        if (sender == null) {
            config = new ProbeConfig(conf);
            Sender s = new Sender(config);
            if (conf != null) {
                s.conf(Wire.conf(conf), false);
            }
            if (connect) {
                s.start();
            }
            sender = s;
        }
        return sender;
    }

    private Sender sender() {
        Sender s = sender;
        if (s != null) {
            return s;
        }
        SparkEnv env = SparkEnv.get();
        return init(env == null ? null : env.conf(), true);
    }

    // ---- listener bus callbacks: measure, encode, offer; nothing escapes --------------------------

    @Override
    public void onApplicationStart(SparkListenerApplicationStart e) {
        long t0 = System.nanoTime();
        Sender s = null;
        try {
            s = sender();
            s.setAppId(ScalaCompat.optString(e.appId()));
            s.appStart(Wire.appStart(ScalaCompat.optString(e.appId()), e.appName(), e.sparkUser(), e.time(),
                    SPARK_VERSION, ScalaCompat.optString(e.appAttemptId())));
        } catch (Throwable t) {
            internalError(t);
        }
        done(s, t0);
    }

    @Override
    public void onApplicationEnd(SparkListenerApplicationEnd e) {
        long t0 = System.nanoTime();
        Sender s = null;
        try {
            s = sender();
            s.offer(Wire.appEnd(e.time()));
        } catch (Throwable t) {
            internalError(t);
        }
        done(s, t0);
        // The one bounded wait on the bus thread: let the last events reach the agent before the
        // driver JVM exits (not counted in processing_ns, which measures the encode path).
        close();
    }

    @Override
    public void onExecutorAdded(SparkListenerExecutorAdded e) {
        long t0 = System.nanoTime();
        Sender s = null;
        try {
            s = sender();
            s.executorAdded(e.executorId(), Wire.executorAdded(e.executorId(), e.executorInfo().executorHost(),
                    e.executorInfo().totalCores(), e.time(), e.executorInfo().resourceProfileId()));
        } catch (Throwable t) {
            internalError(t);
        }
        done(s, t0);
    }

    /**
     * Heartbeats (an executor's every {@code spark.executor.heartbeatInterval}, and the driver's own):
     * one executor_metrics line per stage of {@code e.executorUpdates} with a value above 0 (the
     * driver's under stage -1/-1), when {@code spark.eventLog.logStageExecutorMetrics} is true
     * ({@link ProbeConfig#LOG_STAGE_EXECUTOR_METRICS}). The accumulator updates are never read. A rare event: its lines
     * are built here.
     */
    @Override
    public void onExecutorMetricsUpdate(SparkListenerExecutorMetricsUpdate e) {
        long t0 = System.nanoTime();
        Sender s = null;
        try {
            s = sender();
            // Without it the event log keeps none of this (ProbeConfig.LOG_STAGE_EXECUTOR_METRICS).
            Iterable<Object> updates = config.heartbeatMetrics ? ScalaCompat.toList(e.executorUpdates())
                    : java.util.Collections.emptyList();
            for (Object o : updates) {
                scala.Tuple2<?, ?> kv = (scala.Tuple2<?, ?>) o;
                scala.Tuple2<?, ?> stage = (scala.Tuple2<?, ?>) kv._1();
                byte[] line = ExecutorPeaks.line(e.execId(), (ExecutorMetrics) kv._2(),
                        ((Number) stage._1()).intValue(), ((Number) stage._2()).intValue(), ExecutorPeaks.HEARTBEAT);
                if (line != null) {
                    s.offer(line);
                }
            }
        } catch (Throwable t) {
            internalError(t);
        }
        done(s, t0);
    }

    /** A stage's peaks per executor (Spark posts these only when replaying an event log). */
    @Override
    public void onStageExecutorMetrics(SparkListenerStageExecutorMetrics e) {
        long t0 = System.nanoTime();
        Sender s = null;
        try {
            s = sender();
            byte[] line = ExecutorPeaks.line(e.execId(), e.executorMetrics(), e.stageId(), e.stageAttemptId(),
                    ExecutorPeaks.STAGE);
            if (line != null) {
                s.offer(line);
            }
        } catch (Throwable t) {
            internalError(t);
        }
        done(s, t0);
    }

    /** A resource profile (the default one at start, one per {@code withResources}); repeated after each hello. */
    @Override
    public void onResourceProfileAdded(SparkListenerResourceProfileAdded e) {
        long t0 = System.nanoTime();
        Sender s = null;
        try {
            s = sender();
            s.resourceProfileAdded(e.resourceProfile().id(), Wire.resourceProfileAdded(e.resourceProfile()));
        } catch (Throwable t) {
            internalError(t);
        }
        done(s, t0);
    }

    /**
     * Events of other components: Spark Connect's session and service events are sent
     * ({@link Connect}, matched by class, read by reflection); every other one (SQL events...) costs
     * one class-value lookup and is not sent.
     */
    @Override
    public void onOtherEvent(SparkListenerEvent e) {
        Connect.Reader r = Connect.of(e);
        if (r.kind == null) {
            return; // not counted in processing_ns either: nothing of it is read
        }
        long t0 = System.nanoTime();
        Sender s = null;
        try {
            s = sender();
            byte[] line = r.line(e);
            if ("session_started".equals(r.kind)) {
                s.sessionStarted(r.sessionId(e), line);
            } else if ("session_closed".equals(r.kind)) {
                s.sessionClosed(r.sessionId(e), line);
            } else {
                s.connectServerStarted(line);
            }
        } catch (Throwable t) {
            internalError(t);
        }
        done(s, t0);
    }

    @Override
    public void onExecutorRemoved(SparkListenerExecutorRemoved e) {
        long t0 = System.nanoTime();
        Sender s = null;
        try {
            s = sender();
            s.executorRemoved(e.executorId(), Wire.executorRemoved(e.executorId(), e.time(), e.reason()));
        } catch (Throwable t) {
            internalError(t);
        }
        done(s, t0);
    }

    @Override
    public void onBlockManagerAdded(SparkListenerBlockManagerAdded e) {
        long t0 = System.nanoTime();
        Sender s = null;
        try {
            s = sender();
            s.offer(Wire.blockManagerAdded(e.blockManagerId().executorId(), e.blockManagerId().host(), e.time(),
                    e.maxMem()));
        } catch (Throwable t) {
            internalError(t);
        }
        done(s, t0);
    }

    @Override
    public void onBlockManagerRemoved(SparkListenerBlockManagerRemoved e) {
        long t0 = System.nanoTime();
        Sender s = null;
        try {
            s = sender();
            s.offer(Wire.blockManagerRemoved(e.blockManagerId().executorId(), e.time()));
        } catch (Throwable t) {
            internalError(t);
        }
        done(s, t0);
    }

    @Override
    public void onBlockUpdated(SparkListenerBlockUpdated e) {
        long t0 = System.nanoTime();
        Sender s = null;
        try {
            s = sender();
            BlockUpdatedInfo b = e.blockUpdatedInfo();
            // Broadcast, shuffle, taskresult... blocks are not needed. The class test, not the name:
            // BlockId.name() builds a new string on every call.
            if (b.blockId() instanceof RDDBlockId) {
                s.offer(s.record().block(b)); // encoded on the sender thread
            }
        } catch (Throwable t) {
            internalError(t);
        }
        done(s, t0);
    }

    @Override
    public void onUnpersistRDD(SparkListenerUnpersistRDD e) {
        long t0 = System.nanoTime();
        Sender s = null;
        try {
            s = sender();
            s.offer(Wire.unpersistRdd(e.rddId()));
        } catch (Throwable t) {
            internalError(t);
        }
        done(s, t0);
    }

    @Override
    public void onJobStart(SparkListenerJobStart e) {
        long t0 = System.nanoTime();
        Sender s = null;
        try {
            s = sender();
            s.offer(Wire.jobStart(e));
        } catch (Throwable t) {
            internalError(t);
        }
        done(s, t0);
    }

    @Override
    public void onJobEnd(SparkListenerJobEnd e) {
        long t0 = System.nanoTime();
        Sender s = null;
        try {
            s = sender();
            s.offer(Wire.jobEnd(e));
        } catch (Throwable t) {
            internalError(t);
        }
        done(s, t0);
    }

    @Override
    public void onStageSubmitted(SparkListenerStageSubmitted e) {
        long t0 = System.nanoTime();
        Sender s = null;
        try {
            s = sender();
            s.offer(Wire.stage(e.stageInfo(), false));
        } catch (Throwable t) {
            internalError(t);
        }
        done(s, t0);
    }

    @Override
    public void onStageCompleted(SparkListenerStageCompleted e) {
        long t0 = System.nanoTime();
        Sender s = null;
        try {
            s = sender();
            s.offer(Wire.stage(e.stageInfo(), true));
        } catch (Throwable t) {
            internalError(t);
        }
        done(s, t0);
    }

    @Override
    public void onTaskStart(SparkListenerTaskStart e) {
        long t0 = System.nanoTime();
        Sender s = null;
        try {
            s = sender();
            s.offer(s.record().taskStart(e)); // encoded on the sender thread
        } catch (Throwable t) {
            internalError(t);
        }
        done(s, t0);
    }

    @Override
    public void onTaskEnd(SparkListenerTaskEnd e) {
        long t0 = System.nanoTime();
        Sender s = null;
        try {
            s = sender();
            s.offer(s.record().taskEnd(e, s.deferReads())); // metrics read and encoded on the sender thread
        } catch (Throwable t) {
            internalError(t);
        }
        done(s, t0);
    }

    // ---- late registration ------------------------------------------------------------------------

    /**
     * Queues what a listener registered at startup would already know, for {@code attach(spark)} on a
     * running application: app_start, conf, the live executors and block managers, and the RDD blocks
     * cached now (see {@link Bootstrap} for where each comes from). The caller then registers this
     * listener with {@code sc.addSparkListener(listener)}; events between the two calls are missed.
     */
    public void bootstrap(SparkContext sc) {
        try {
            Sender s = sender != null ? sender : init(sc.conf(), true);
            s.setAppId(sc.applicationId());
            s.appStart(Wire.appStart(sc.applicationId(), sc.appName(), sc.sparkUser(), sc.startTime(),
                    sc.version(), ScalaCompat.optString(sc.applicationAttemptId())));
            s.conf(Wire.conf(sc.conf()), true);
            Bootstrap.snapshot(sc, s, this); // runs on the caller's thread, so not in processing_ns
        } catch (Throwable t) {
            internalError(t);
        }
    }

    // ---- test and benchmark hooks -----------------------------------------------------------------

    /** Events refused by the full queue, plus those lost with a broken connection or left at close. */
    public long droppedEvents() {
        Sender s = sender;
        return s == null ? 0 : s.droppedEvents();
    }

    /** Events offered to the queue (accepted or dropped). */
    public long offeredEvents() {
        Sender s = sender;
        return s == null ? 0 : s.offeredEvents();
    }

    /** Nanoseconds spent inside the {@code on*} methods (the listener-bus thread's cost). */
    public long processingNanos() {
        Sender s = sender;
        return s == null ? 0 : s.processingNanos();
    }

    /** Throwables caught inside the listener (each one means an event was not sent). */
    public long internalErrors() {
        return internalErrors.get();
    }

    /** True while a connection to the agent is established and accepted. */
    public boolean isConnected() {
        Sender s = sender;
        return s != null && s.isConnected();
    }

    /**
     * Benchmark and test hook (with {@code connect=false}): takes up to {@code max} queued events,
     * writes their wire lines to {@code sink} as the sender would, and returns how many it took.
     */
    int drainQueued(java.io.OutputStream sink, int max) throws java.io.IOException {
        return sender.drainQueued(sink, max);
    }

    /** Stops the sender after draining the queue for at most {@code spark.sparkprobe.closeTimeoutMs}. */
    public void close() {
        try {
            Sender s = sender;
            if (s != null) {
                s.close(config.closeTimeoutMs);
            }
        } catch (Throwable t) {
            internalError(t);
        }
    }

    // ---- internals --------------------------------------------------------------------------------

    private void done(Sender s, long t0) {
        if (s != null) {
            s.addProcessingNanos(System.nanoTime() - t0);
        }
    }

    void internalError(Throwable t) {
        internalErrors.incrementAndGet();
        if (warnedError.compareAndSet(false, true)) {
            LOG.warn("sparkprobe: internal error in the listener (event not sent; further ones counted, logged at DEBUG)", t);
        } else if (LOG.isDebugEnabled()) {
            LOG.debug("sparkprobe: internal error in the listener", t);
        }
    }

    private static String sparkVersion() {
        try {
            Object v = Class.forName("org.apache.spark.package").getMethod("SPARK_VERSION").invoke(null);
            return v == null ? "" : v.toString();
        } catch (Throwable t) {
            return "";
        }
    }
}
