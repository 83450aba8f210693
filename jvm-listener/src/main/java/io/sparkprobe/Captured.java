package io.sparkprobe;

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
 * objects are mutable or heavy: a {@code TaskInfo} keeps changing after {@code TaskStart}, and a
 * queue full of {@code TaskMetrics} (dozens of accumulators each) would hold far more driver memory
 * than these copies. {@link BlockUpdatedInfo} is an immutable case class, so it is kept as is.
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
    // block_updated
    BlockUpdatedInfo block;

    Captured taskStart(SparkListenerTaskStart e) {
        kind = TASK_START;
        task(e.stageId(), e.stageAttemptId(), e.taskInfo());
        return this;
    }

    Captured taskEnd(SparkListenerTaskEnd e) throws Exception {
        kind = TASK_END;
        TaskInfo ti = e.taskInfo();
        task(e.stageId(), e.stageAttemptId(), ti);
        finish = ti.finishTime();
        reason = Wire.reasonName(e.reason());
        if (peaks == null) {
            peaks = ExecutorPeaks.newValues(); // once per record: pooled records keep theirs
        }
        hasPeaks = ExecutorPeaks.copy(e.taskExecutorMetrics(), peaks);
        TaskMetrics m = e.taskMetrics();
        hasMetrics = m != null;
        if (m == null) {
            runMs = cpuNs = gcMs = shuffleReadBytes = shuffleWriteBytes = 0;
            memorySpilled = diskSpilled = inputBytes = outputBytes = peakMemory = 0;
            return this;
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
        return this;
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
    void encode(JsonLine out) {
        switch (kind) {
            case TASK_START:
                Wire.taskStart(out, this);
                break;
            case TASK_END:
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
        execId = null;
        reason = null;
        block = null;
    }
}
