package io.sparkprobe;

import org.apache.spark.executor.ExecutorMetrics;
import org.apache.spark.executor.TaskMetrics;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.scheduler.SparkListenerTaskStart;
import org.apache.spark.scheduler.TaskInfo;
import org.apache.spark.storage.BlockUpdatedInfo;

/**
 * A frequent event captured on the listener-bus thread and encoded into its wire line later, on the
 * sender thread ({@link #encode}): a task start, a task end (with its executor metrics peaks, a
 * second line) or an RDD block update, nearly every event of a busy application.
 *
 * <p>The bus thread only copies the fields the wire line needs (no text, no number formatting, no
 * escaping) and offers the record to the queue. Fields are copied, not referenced, where Spark's
 * objects are mutable: a {@code TaskInfo} keeps changing after {@code TaskStart}. A task end's
 * {@code TaskMetrics} and executor metrics peaks are never changed after the event is posted, but
 * are heavy (dozens of accumulators each) and cold in the bus thread's cache: reading them was most
 * of the bus thread's time per task end. So they are kept by reference and read on the sender
 * thread ({@link #resolve}) while the queue is short, which bounds what they hold
 * ({@link EventQueue#DEFER_BACKLOG} events); past that (an agent slow or away) the bus thread reads
 * them at once, and the queue holds only the copies. {@link BlockUpdatedInfo} is an immutable case
 * class, so it is kept as is.
 *
 * <p>One mutable class for the three kinds, so that records are reused ({@link RecordPool}): the bus
 * thread then allocates nothing per event. An allocation there is not only its own cost: when it
 * finds the young generation full, the bus thread triggers the GC pause and waits it out inside the
 * listener's call (benchmarks/listener, {@code bus} mode with the GC made busy: 150 bytes per event
 * averaged 2.6-6 µs per call at a median of 0.3 µs; reused records, 0.5-0.65 µs).
 */
final class Captured {
    static final byte TASK_START = 1;
    static final byte TASK_END = 2;
    static final byte BLOCK = 3;

    byte kind;
    // task_start and task_end: the event and its TaskInfo
    long taskId;
    int stageId;
    int stageAttempt;
    int index;
    int partition;
    int attempt;
    String execId;
    long launch;
    boolean speculative;
    // task_end only
    long finish;
    /** Simple class name of the TaskEndReason ({@link Wire#reasonName}). */
    String reason;
    /** False when Spark sent no metrics (a failed task may not have any): the wire then omits them. */
    boolean hasMetrics;
    long runMs;
    long cpuNs;
    long gcMs;
    long shuffleReadBytes;
    long shuffleWriteBytes;
    long memorySpilled;
    long diskSpilled;
    long inputBytes;
    long outputBytes;
    long peakMemory;
    /**
     * The task's executor metrics peaks ({@code e.taskExecutorMetrics}, {@link ExecutorPeaks#NAMES}
     * order), sent as an executor_metrics line right after the task_end when any is above 0. The
     * array belongs to the record and is reused with it.
     */
    long[] peaks;
    boolean hasPeaks;
    /** A task end whose metrics are still to be read ({@link #resolve}): Spark's, by reference. */
    private TaskMetrics metricsRef;
    private ExecutorMetrics peaksRef;
    private boolean unresolved;
    // block_updated
    BlockUpdatedInfo block;

    Captured taskStart(SparkListenerTaskStart e) {
        kind = TASK_START;
        task(e.stageId(), e.stageAttemptId(), e.taskInfo());
        return this;
    }

    /**
     * A task end: its {@code TaskInfo} fields now, its metrics and peaks now or, with {@code defer},
     * when the sender encodes the record ({@link #resolve}).
     */
    Captured taskEnd(SparkListenerTaskEnd e, boolean defer) throws Exception {
        kind = TASK_END;
        TaskInfo ti = e.taskInfo();
        task(e.stageId(), e.stageAttemptId(), ti);
        finish = ti.finishTime();
        reason = Wire.reasonName(e.reason());
        metricsRef = e.taskMetrics();
        peaksRef = e.taskExecutorMetrics();
        unresolved = true;
        if (!defer) {
            resolve();
        }
        return this;
    }

    /** Reads a task end's metrics and peaks into the record and lets go of Spark's objects. */
    void resolve() throws Exception {
        if (!unresolved) {
            return;
        }
        unresolved = false;
        TaskMetrics m = metricsRef;
        ExecutorMetrics p = peaksRef;
        metricsRef = null;
        peaksRef = null;
        if (peaks == null) {
            peaks = ExecutorPeaks.newValues(); // once per record: pooled records keep theirs
        }
        hasPeaks = ExecutorPeaks.copy(p, peaks);
        hasMetrics = m != null;
        if (m == null) {
            runMs = cpuNs = gcMs = shuffleReadBytes = shuffleWriteBytes = 0;
            memorySpilled = diskSpilled = inputBytes = outputBytes = peakMemory = 0;
            return;
        }
        runMs = m.executorRunTime();
        cpuNs = m.executorCpuTime();
        gcMs = m.jvmGCTime();
        shuffleReadBytes = m.shuffleReadMetrics().remoteBytesRead() + m.shuffleReadMetrics().localBytesRead();
        shuffleWriteBytes = m.shuffleWriteMetrics().bytesWritten();
        memorySpilled = m.memoryBytesSpilled();
        diskSpilled = m.diskBytesSpilled();
        inputBytes = m.inputMetrics().bytesRead();
        outputBytes = m.outputMetrics().bytesWritten();
        peakMemory = m.peakExecutionMemory();
    }

    /** An RDD block update (the caller has checked the block id is an RDD block). */
    Captured block(BlockUpdatedInfo info) {
        kind = BLOCK;
        block = info;
        return this;
    }

    private void task(int stage, int stageAttemptId, TaskInfo ti) {
        taskId = ti.taskId();
        stageId = stage;
        stageAttempt = stageAttemptId;
        index = ti.index();
        partition = ti.partitionId();
        attempt = ti.attemptNumber();
        execId = ti.executorId();
        launch = ti.launchTime();
        speculative = ti.speculative();
    }

    /** Appends the wire line (without its newline) to the sender's batch. */
    void encode(JsonLine out) throws Exception {
        switch (kind) {
            case TASK_START:
                Wire.taskStart(out, this);
                break;
            case TASK_END:
                resolve();
                Wire.taskEnd(out, this);
                if (hasPeaks) { // the event log's "Task Executor Metrics", as the record that follows
                    out.raw('\n');
                    ExecutorPeaks.encode(out, execId, peaks, stageId, stageAttempt, ExecutorPeaks.TASK);
                }
                break;
            case BLOCK:
                BlockUpdatedInfo b = block;
                Wire.blockUpdated(out, b.blockId().name(), b.blockManagerId().executorId(), b.storageLevel(),
                        b.memSize(), b.diskSize());
                break;
            default:
                throw new IllegalStateException("captured record of no kind");
        }
    }

    /** Forgets the references (a pooled record keeps no Spark object alive). */
    void clear() {
        kind = 0;
        hasPeaks = false;
        unresolved = false;
        metricsRef = null;
        peaksRef = null;
        execId = null;
        reason = null;
        block = null;
    }
}
