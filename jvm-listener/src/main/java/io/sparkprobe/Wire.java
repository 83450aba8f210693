package io.sparkprobe;

import java.lang.reflect.Method;
import java.util.List;
import org.apache.spark.SparkConf;
import org.apache.spark.TaskEndReason;
import org.apache.spark.rdd.RDDOperationScope;
import org.apache.spark.scheduler.JobSucceeded$;
import org.apache.spark.scheduler.SparkListenerJobEnd;
import org.apache.spark.scheduler.SparkListenerJobStart;
import org.apache.spark.scheduler.StageInfo;
import org.apache.spark.storage.RDDInfo;
import org.apache.spark.storage.StorageLevel;

/**
 * One encoder per wire kind (docs/wire-format.md, wire version 1): Spark event → one JSON line.
 * Task and block-update lines are encoded from their {@link Captured} copies, on the sender thread.
 *
 * <p>Field names are the names of the records in {@code sparkprobe.events}. The mapping must stay
 * exactly what the offline event-log reader derives from Spark's JSON event log, so that a live
 * stream and the event log of the same run give identical figures.
 */
final class Wire {
    private Wire() {
    }

    // Seq-returning accessors: their descriptors differ between Scala 2.12 and 2.13 (see ScalaCompat).
    private static final Method STAGE_RDD_INFOS = ScalaCompat.method(StageInfo.class, "rddInfos");
    private static final Method RDD_PARENT_IDS = ScalaCompat.method(RDDInfo.class, "parentIds");
    private static final Method JOB_STAGE_IDS = ScalaCompat.method(SparkListenerJobStart.class, "stageIds");

    /** Simple class name of a TaskEndReason, trailing '$' of a Scala object removed ("Success$" → "Success"). */
    private static final ClassValue<String> REASON_NAME = new ClassValue<String>() {
        @Override
        protected String computeValue(Class<?> c) {
            String n = c.getName();
            if (n.endsWith("$")) {
                n = n.substring(0, n.length() - 1);
            }
            return n.substring(Math.max(n.lastIndexOf('.'), n.lastIndexOf('$')) + 1);
        }
    };

    static String hello(String appId, String token, String listenerVersion, int wire) {
        return new JsonLine(128 + appId.length() + token.length())
                .raw("{\"hello\":\"sparkprobe\",\"wire\":").num(wire)
                .raw(",\"app_id\":").str(appId)
                .raw(",\"token\":").str(token)
                .raw(",\"listener\":").str(listenerVersion)
                .end();
    }

    static String listenerStats(long offered, long dropped, long processingNs, long reconnects) {
        return new JsonLine(112)
                .raw("{\"k\":\"listener_stats\",\"offered\":").num(offered)
                .raw(",\"dropped\":").num(dropped)
                .raw(",\"processing_ns\":").num(processingNs)
                .raw(",\"reconnects\":").num(reconnects)
                .end();
    }

    static String appStart(String appId, String appName, String user, long time, String version, String attemptId) {
        return new JsonLine(160 + len(appName))
                .raw("{\"k\":\"app_start\",\"app_id\":").str(appId)
                .raw(",\"app_name\":").str(appName)
                .raw(",\"user\":").str(user)
                .raw(",\"time\":").num(time)
                .raw(",\"spark_version\":").str(version)
                .raw(",\"attempt_id\":").str(attemptId)
                .end();
    }

    static String appEnd(long time) {
        return new JsonLine(40).raw("{\"k\":\"app_end\",\"time\":").num(time).end();
    }

    /** Only the {@link ProbeListener#CONF_KEYS} that are set; never any other property. */
    static String conf(SparkConf conf) {
        JsonLine j = new JsonLine(256).raw("{\"k\":\"conf\",\"props\":{");
        boolean first = true;
        for (String key : ProbeListener.CONF_KEYS) {
            String v = conf.get(key, null);
            if (v != null) {
                j.raw(first ? "\"" : ",\"").raw(key).raw("\":").str(v);
                first = false;
            }
        }
        return j.raw("}").end();
    }

    static String executorAdded(String execId, String host, int cores, long time) {
        return new JsonLine(112)
                .raw("{\"k\":\"executor_added\",\"exec_id\":").str(execId)
                .raw(",\"host\":").str(host)
                .raw(",\"cores\":").num(cores)
                .raw(",\"time\":").num(time)
                .end();
    }

    static String executorRemoved(String execId, long time, String reason) {
        return new JsonLine(96 + len(reason))
                .raw("{\"k\":\"executor_removed\",\"exec_id\":").str(execId)
                .raw(",\"time\":").num(time)
                .raw(",\"reason\":").str(reason)
                .end();
    }

    static String blockManagerAdded(String execId, String host, long time, long maxMem) {
        return new JsonLine(128)
                .raw("{\"k\":\"block_manager_added\",\"exec_id\":").str(execId)
                .raw(",\"host\":").str(host)
                .raw(",\"time\":").num(time)
                .raw(",\"max_mem\":").num(maxMem)
                .end();
    }

    static String blockManagerRemoved(String execId, long time) {
        return new JsonLine(80)
                .raw("{\"k\":\"block_manager_removed\",\"exec_id\":").str(execId)
                .raw(",\"time\":").num(time)
                .end();
    }

    static String blockUpdated(String blockId, String execId, StorageLevel level, long memSize, long diskSize) {
        return new JsonLine(224)
                .raw("{\"k\":\"block_updated\",\"block_id\":").str(blockId)
                .raw(",\"exec_id\":").str(execId)
                .raw(",\"use_memory\":").bool(level.useMemory())
                .raw(",\"use_disk\":").bool(level.useDisk())
                .raw(",\"off_heap\":").bool(level.useOffHeap())
                .raw(",\"deserialized\":").bool(level.deserialized())
                .raw(",\"replication\":").num(level.replication())
                .raw(",\"mem_size\":").num(memSize)
                .raw(",\"disk_size\":").num(diskSize)
                .end();
    }

    static String unpersistRdd(int rddId) {
        return new JsonLine(40).raw("{\"k\":\"unpersist_rdd\",\"rdd_id\":").num(rddId).end();
    }

    static String jobStart(SparkListenerJobStart e) throws Exception {
        // Only callSite.short is read: job properties also carry Spark conf values (secrets).
        java.util.Properties props = e.properties();
        String callsite = props == null ? "" : props.getProperty("callSite.short", "");
        JsonLine j = new JsonLine(160)
                .raw("{\"k\":\"job_start\",\"job_id\":").num(e.jobId())
                .raw(",\"time\":").num(e.time())
                .raw(",\"callsite\":").str(callsite)
                .raw(",\"stage_ids\":");
        return ints(j, ScalaCompat.seq(JOB_STAGE_IDS, e)).end();
    }

    static String jobEnd(SparkListenerJobEnd e) {
        return new JsonLine(80)
                .raw("{\"k\":\"job_end\",\"job_id\":").num(e.jobId())
                .raw(",\"time\":").num(e.time())
                .raw(",\"succeeded\":").bool(e.jobResult() instanceof JobSucceeded$)
                .end();
    }

    /** stage_submitted (time = submissionTime) or stage_completed (time = completionTime, failure). */
    static String stage(StageInfo si, boolean completed) throws Exception {
        JsonLine j = new JsonLine(1024)
                .raw(completed ? "{\"k\":\"stage_completed\",\"stage_id\":" : "{\"k\":\"stage_submitted\",\"stage_id\":")
                .num(si.stageId())
                .raw(",\"attempt\":").num(si.attemptNumber())
                .raw(",\"name\":").str(si.name())
                .raw(",\"num_tasks\":").num(si.numTasks())
                .raw(",\"time\":").num(ScalaCompat.optLong(completed ? si.completionTime() : si.submissionTime()));
        if (completed) {
            j.raw(",\"failure\":").str(ScalaCompat.optString(si.failureReason()));
        }
        j.raw(",\"rdds\":[");
        boolean first = true;
        for (Object o : ScalaCompat.seq(STAGE_RDD_INFOS, si)) {
            RDDInfo r = (RDDInfo) o;
            StorageLevel level = r.storageLevel();
            Object scope = ScalaCompat.opt(r.scope(), null);
            j.raw(first ? "{\"rdd_id\":" : ",{\"rdd_id\":").num(r.id())
                    .raw(",\"name\":").str(r.name())
                    .raw(",\"callsite\":").str(r.callSite())
                    .raw(",\"parents\":");
            ints(j, ScalaCompat.seq(RDD_PARENT_IDS, r))
                    .raw(",\"use_memory\":").bool(level.useMemory())
                    .raw(",\"use_disk\":").bool(level.useDisk())
                    .raw(",\"replication\":").num(level.replication())
                    .raw(",\"partitions\":").num(r.numPartitions())
                    .raw(",\"cached_partitions\":").num(r.numCachedPartitions())
                    .raw(",\"mem_size\":").num(r.memSize())
                    .raw(",\"disk_size\":").num(r.diskSize())
                    .raw(",\"scope\":").str(scope instanceof RDDOperationScope ? ((RDDOperationScope) scope).name() : "")
                    .raw("}");
            first = false;
        }
        return j.raw("]").end();
    }

    static String taskStart(Captured.TaskStart t) {
        return taskFields(new JsonLine(256).raw("{\"k\":\"task_start\",\"task_id\":"), t)
                .raw(",\"speculative\":").bool(t.speculative)
                .end();
    }

    static String taskEnd(Captured.TaskEnd t) {
        JsonLine j = taskFields(new JsonLine(512).raw("{\"k\":\"task_end\",\"task_id\":"), t)
                .raw(",\"finish\":").num(t.finish)
                .raw(",\"status\":").str(status(t.reason))
                .raw(",\"reason\":").str(t.reason)
                .raw(",\"speculative\":").bool(t.speculative);
        if (!t.hasMetrics) { // a failed task may come without metrics: the wire defaults are zeros
            return j.end();
        }
        return j.raw(",\"run_ms\":").num(t.runMs)
                .raw(",\"cpu_ns\":").num(t.cpuNs)
                .raw(",\"gc_ms\":").num(t.gcMs)
                .raw(",\"shuffle_read_bytes\":").num(t.shuffleReadBytes)
                .raw(",\"shuffle_write_bytes\":").num(t.shuffleWriteBytes)
                .raw(",\"memory_spilled\":").num(t.memorySpilled)
                .raw(",\"disk_spilled\":").num(t.diskSpilled)
                .raw(",\"input_bytes\":").num(t.inputBytes)
                .raw(",\"output_bytes\":").num(t.outputBytes)
                .raw(",\"peak_memory\":").num(t.peakMemory)
                .end();
    }

    /** The fields task_start and task_end share, after the opening {@code "task_id":}. */
    private static JsonLine taskFields(JsonLine j, Captured.Task t) {
        return j.num(t.taskId)
                .raw(",\"stage_id\":").num(t.stageId)
                .raw(",\"stage_attempt\":").num(t.stageAttempt)
                .raw(",\"index\":").num(t.index)
                .raw(",\"partition\":").num(t.partition)
                .raw(",\"attempt\":").num(t.attempt)
                .raw(",\"exec_id\":").str(t.execId)
                .raw(",\"launch\":").num(t.launch);
    }

    static String reasonName(TaskEndReason reason) {
        return reason == null ? "" : REASON_NAME.get(reason.getClass());
    }

    /** task_end.status from the reason's name: success, killed, resubmitted, else failed. */
    static String status(String reasonName) {
        if ("Success".equals(reasonName)) {
            return "success";
        }
        if ("TaskKilled".equals(reasonName)) {
            return "killed";
        }
        if ("Resubmitted".equals(reasonName)) {
            return "resubmitted";
        }
        return "failed";
    }

    private static JsonLine ints(JsonLine j, List<Object> values) {
        j.raw("[");
        for (int i = 0; i < values.size(); i++) {
            if (i > 0) {
                j.raw(",");
            }
            j.num(((Number) values.get(i)).longValue());
        }
        return j.raw("]");
    }

    private static int len(String s) {
        return s == null ? 0 : s.length();
    }
}
