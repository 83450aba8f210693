package io.sparkprobe;

import org.apache.spark.executor.TaskMetrics;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.scheduler.SparkListenerTaskStart;
import org.apache.spark.scheduler.TaskInfo;
import org.apache.spark.storage.BlockUpdatedInfo;

/**
 * A frequent event captured on the listener-bus thread and encoded into its wire line later, on the
 * sender thread ({@link #encode}).
 *
 * <p>Task starts, task ends and block updates are nearly every event of a busy application. For them
 * the bus thread only copies the fields the wire line needs into one small object (no text, no
 * number formatting, no escaping) and offers it to the queue; measured on Spark's bus, encoding was
 * most of the listener's cost there. Fields are copied, not referenced, where Spark's objects are
 * mutable or heavy: a {@code TaskInfo} keeps changing after {@code TaskStart}, and a queue full of
 * {@code TaskMetrics} (dozens of accumulators each) would hold far more driver memory than these
 * copies. {@link BlockUpdatedInfo} is an immutable case class, so it is kept as is.
 */
abstract class Captured {
    /** The wire line, exactly what {@link Wire} would have written on the bus thread. */
    abstract String encode();

    /** The fields of task_start and task_end that come from the event and its {@code TaskInfo}. */
    abstract static class Task extends Captured {
        final long taskId;
        final int stageId;
        final int stageAttempt;
        final int index;
        final int partition;
        final int attempt;
        final String execId;
        final long launch;
        final boolean speculative;

        Task(int stageId, int stageAttempt, TaskInfo ti) {
            this.taskId = ti.taskId();
            this.stageId = stageId;
            this.stageAttempt = stageAttempt;
            this.index = ti.index();
            this.partition = ti.partitionId();
            this.attempt = ti.attemptNumber();
            this.execId = ti.executorId();
            this.launch = ti.launchTime();
            this.speculative = ti.speculative();
        }
    }

    static final class TaskStart extends Task {
        TaskStart(SparkListenerTaskStart e) {
            super(e.stageId(), e.stageAttemptId(), e.taskInfo());
        }

        @Override
        String encode() {
            return Wire.taskStart(this);
        }
    }

    static final class TaskEnd extends Task {
        final long finish;
        /** Simple class name of the TaskEndReason ({@link Wire#reasonName}). */
        final String reason;
        /** False when Spark sent no metrics (a failed task may not have any): the wire then omits them. */
        final boolean hasMetrics;
        final long runMs;
        final long cpuNs;
        final long gcMs;
        final long shuffleReadBytes;
        final long shuffleWriteBytes;
        final long memorySpilled;
        final long diskSpilled;
        final long inputBytes;
        final long outputBytes;
        final long peakMemory;

        TaskEnd(SparkListenerTaskEnd e) {
            super(e.stageId(), e.stageAttemptId(), e.taskInfo());
            this.finish = e.taskInfo().finishTime();
            this.reason = Wire.reasonName(e.reason());
            TaskMetrics m = e.taskMetrics();
            this.hasMetrics = m != null;
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

        @Override
        String encode() {
            return Wire.taskEnd(this);
        }
    }

    /** An RDD block update (the caller has checked the block id is an RDD block). */
    static final class Block extends Captured {
        final BlockUpdatedInfo info;

        Block(BlockUpdatedInfo info) {
            this.info = info;
        }

        @Override
        String encode() {
            return Wire.blockUpdated(info.blockId().name(), info.blockManagerId().executorId(), info.storageLevel(),
                    info.memSize(), info.diskSize());
        }
    }
}
