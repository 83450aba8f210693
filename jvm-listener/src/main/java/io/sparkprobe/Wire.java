package io.sparkprobe;

import java.lang.reflect.Method;
import java.util.List;
import org.apache.spark.SparkConf;
import org.apache.spark.Success$;
import org.apache.spark.TaskEndReason;
import org.apache.spark.rdd.RDDOperationScope;
import org.apache.spark.resource.ExecutorResourceRequest;
import org.apache.spark.resource.ResourceProfile;
import org.apache.spark.resource.TaskResourceRequest;
import org.apache.spark.scheduler.JobSucceeded$;
import org.apache.spark.scheduler.SparkListenerJobEnd;
import org.apache.spark.scheduler.SparkListenerJobStart;
import org.apache.spark.scheduler.StageInfo;
import org.apache.spark.storage.RDDInfo;
import org.apache.spark.storage.StorageLevel;

/**
 * One encoder per wire kind (docs/wire-format.md, wire version 1): Spark event → one JSON line, as
 * UTF-8 bytes ({@link JsonLine}). A rare event's line is its own {@code byte[]}, built on the bus
 * thread; task and block-update lines are encoded from their {@link Captured} copies straight into
 * the sender thread's batch, as are the listener's stats.
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

    static byte[] hello(String appId, String token, String listenerVersion, int wire) {
        return new JsonLine(128 + appId.length() + token.length())
                .raw("{\"hello\":\"sparkprobe\",\"wire\":").num(wire)
                .raw(",\"app_id\":").str(appId)
                .raw(",\"token\":").str(token)
                .raw(",\"listener\":").str(listenerVersion)
                .end();
    }

    private static final byte[] STATS = JsonLine.ascii("{\"k\":\"listener_stats\",\"offered\":");
    private static final byte[] STATS_DROPPED = JsonLine.ascii(",\"dropped\":");
    private static final byte[] STATS_PROCESSING_NS = JsonLine.ascii(",\"processing_ns\":");
    private static final byte[] STATS_RECONNECTS = JsonLine.ascii(",\"reconnects\":");

    /** Appends a listener_stats line (without its newline) to the sender's batch. */
    static void listenerStats(JsonLine out, long offered, long dropped, long processingNs, long reconnects) {
        out.raw(STATS).num(offered)
                .raw(STATS_DROPPED).num(dropped)
                .raw(STATS_PROCESSING_NS).num(processingNs)
                .raw(STATS_RECONNECTS).num(reconnects)
                .raw('}');
    }

    static byte[] appStart(String appId, String appName, String user, long time, String version, String attemptId) {
        return new JsonLine(160 + len(appName))
                .raw("{\"k\":\"app_start\",\"app_id\":").str(appId)
                .raw(",\"app_name\":").str(appName)
                .raw(",\"user\":").str(user)
                .raw(",\"time\":").num(time)
                .raw(",\"spark_version\":").str(version)
                .raw(",\"attempt_id\":").str(attemptId)
                .end();
    }

    static byte[] appEnd(long time) {
        return new JsonLine(40).raw("{\"k\":\"app_end\",\"time\":").num(time).end();
    }

    /** Only the {@link ProbeListener#CONF_KEYS} that are set; never any other property. */
    static byte[] conf(SparkConf conf) {
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

    static byte[] executorAdded(String execId, String host, int cores, long time, int profileId) {
        return new JsonLine(128)
                .raw("{\"k\":\"executor_added\",\"exec_id\":").str(execId)
                .raw(",\"host\":").str(host)
                .raw(",\"cores\":").num(cores)
                .raw(",\"time\":").num(time)
                .raw(",\"profile_id\":").num(profileId)
                .end();
    }

    /**
     * resource_profile_added: the profile's executor resource amounts by name (sorted, so the line is
     * the same whatever the map's order), and its {@code cpus} task amount as an integer of at least 1,
     * as the event-log reader takes {@code "Task Resource Requests"."cpus"."Amount"}.
     */
    static byte[] resourceProfileAdded(ResourceProfile rp) {
        java.util.TreeMap<String, ExecutorResourceRequest> executor =
                new java.util.TreeMap<String, ExecutorResourceRequest>(rp.executorResourcesJMap());
        JsonLine j = new JsonLine(256)
                .raw("{\"k\":\"resource_profile_added\",\"profile_id\":").num(rp.id())
                .raw(",\"executor\":{");
        boolean first = true;
        for (java.util.Map.Entry<String, ExecutorResourceRequest> e : executor.entrySet()) {
            j.raw(first ? "" : ",").str(e.getKey()).raw(":").num(e.getValue().amount());
            first = false;
        }
        TaskResourceRequest cpus = rp.taskResourcesJMap().get("cpus");
        long taskCpus = cpus == null ? 1 : Math.max(1L, (long) cpus.amount());
        return j.raw("},\"task_cpus\":").num(taskCpus).end();
    }

    static byte[] executorRemoved(String execId, long time, String reason) {
        return new JsonLine(96 + len(reason))
                .raw("{\"k\":\"executor_removed\",\"exec_id\":").str(execId)
                .raw(",\"time\":").num(time)
                .raw(",\"reason\":").str(reason)
                .end();
    }

    static byte[] blockManagerAdded(String execId, String host, long time, long maxMem) {
        return new JsonLine(128)
                .raw("{\"k\":\"block_manager_added\",\"exec_id\":").str(execId)
                .raw(",\"host\":").str(host)
                .raw(",\"time\":").num(time)
                .raw(",\"max_mem\":").num(maxMem)
                .end();
    }

    static byte[] blockManagerRemoved(String execId, long time) {
        return new JsonLine(80)
                .raw("{\"k\":\"block_manager_removed\",\"exec_id\":").str(execId)
                .raw(",\"time\":").num(time)
                .end();
    }

    private static final byte[] BLOCK = JsonLine.ascii("{\"k\":\"block_updated\",\"block_id\":");
    private static final byte[] EXEC_ID = JsonLine.ascii(",\"exec_id\":");
    private static final byte[] USE_MEMORY = JsonLine.ascii(",\"use_memory\":");
    private static final byte[] USE_DISK = JsonLine.ascii(",\"use_disk\":");
    private static final byte[] OFF_HEAP = JsonLine.ascii(",\"off_heap\":");
    private static final byte[] DESERIALIZED = JsonLine.ascii(",\"deserialized\":");
    private static final byte[] REPLICATION = JsonLine.ascii(",\"replication\":");
    private static final byte[] MEM_SIZE = JsonLine.ascii(",\"mem_size\":");
    private static final byte[] DISK_SIZE = JsonLine.ascii(",\"disk_size\":");

    /** A block_updated line of its own (the attach snapshot). */
    static byte[] blockUpdated(String blockId, String execId, StorageLevel level, long memSize, long diskSize) {
        JsonLine j = new JsonLine(224);
        blockUpdated(j, blockId, execId, level, memSize, diskSize);
        return j.toBytes();
    }

    /** Appends a block_updated line (without its newline) to {@code out}. */
    static void blockUpdated(JsonLine out, String blockId, String execId, StorageLevel level, long memSize,
            long diskSize) {
        out.raw(BLOCK).str(blockId)
                .raw(EXEC_ID).str(execId)
                .raw(USE_MEMORY).bool(level.useMemory())
                .raw(USE_DISK).bool(level.useDisk())
                .raw(OFF_HEAP).bool(level.useOffHeap())
                .raw(DESERIALIZED).bool(level.deserialized())
                .raw(REPLICATION).num(level.replication())
                .raw(MEM_SIZE).num(memSize)
                .raw(DISK_SIZE).num(diskSize)
                .raw('}');
    }

    static byte[] unpersistRdd(int rddId) {
        return new JsonLine(40).raw("{\"k\":\"unpersist_rdd\",\"rdd_id\":").num(rddId).end();
    }

    /**
     * job_start. Only these job properties are read (they also carry Spark conf values, secrets among
     * them): {@code callSite.short}, {@code spark.job.tags}, {@code spark.jobGroup.id},
     * {@code spark.scheduler.pool}, {@code sql.streaming.queryId} and whether
     * {@code spark.streaming.internal.batchTime} is set, as the event-log reader reads them. A Spark
     * Connect job's callsite is the request's plan (a statement text): not sent.
     */
    static byte[] jobStart(SparkListenerJobStart e) throws Exception {
        java.util.Properties props = e.properties();
        List<String> tags = jobTags(prop(props, "spark.job.tags"));
        String callsite = isConnectJob(tags) ? "" : prop(props, "callSite.short");
        String streaming = prop(props, "sql.streaming.queryId");
        if (streaming.isEmpty() && !prop(props, "spark.streaming.internal.batchTime").isEmpty()) {
            streaming = "dstream";
        }
        JsonLine j = new JsonLine(256)
                .raw("{\"k\":\"job_start\",\"job_id\":").num(e.jobId())
                .raw(",\"time\":").num(e.time())
                .raw(",\"callsite\":").str(callsite)
                .raw(",\"stage_ids\":");
        ints(j, ScalaCompat.seq(JOB_STAGE_IDS, e)).raw(",\"tags\":[");
        for (int i = 0; i < tags.size(); i++) {
            j.raw(i == 0 ? "" : ",").str(tags.get(i));
        }
        return j.raw("],\"job_group\":").str(prop(props, "spark.jobGroup.id"))
                .raw(",\"pool\":").str(prop(props, "spark.scheduler.pool"))
                .raw(",\"streaming\":").str(streaming)
                .end();
    }

    private static String prop(java.util.Properties props, String key) {
        String v = props == null ? null : props.getProperty(key);
        return v == null ? "" : v;
    }

    /**
     * The tags of a {@code spark.job.tags} value: Spark joins them with {@code ,}; each is stripped of
     * white space and empty ones are left out ({@code sparkprobe.events.split_job_tags}).
     */
    static List<String> jobTags(String value) {
        List<String> out = new java.util.ArrayList<String>();
        int from = 0;
        while (from <= value.length()) {
            int comma = value.indexOf(',', from);
            int end = comma < 0 ? value.length() : comma;
            String tag = strip(value, from, end);
            if (!tag.isEmpty()) {
                out.add(tag);
            }
            from = end + 1;
        }
        return out;
    }

    /** {@code s[from:end]} without leading and trailing white space as Python's {@code str.strip} sees it. */
    private static String strip(String s, int from, int end) {
        while (from < end && space(s.charAt(from))) {
            from++;
        }
        while (end > from && space(s.charAt(end - 1))) {
            end--;
        }
        return s.substring(from, end);
    }

    private static boolean space(char c) {
        return Character.isWhitespace(c) || Character.isSpaceChar(c) || c == '\u0085';
    }

    /** A Spark Connect operation's job: it carries Connect's {@code SparkConnect_OperationTag_...} tag. */
    static boolean isConnectJob(List<String> tags) {
        for (String t : tags) {
            if (t.startsWith("SparkConnect_OperationTag_")) {
                return true;
            }
        }
        return false;
    }

    static byte[] jobEnd(SparkListenerJobEnd e) {
        return new JsonLine(80)
                .raw("{\"k\":\"job_end\",\"job_id\":").num(e.jobId())
                .raw(",\"time\":").num(e.time())
                .raw(",\"succeeded\":").bool(e.jobResult() instanceof JobSucceeded$)
                .end();
    }

    /** stage_submitted (time = submissionTime) or stage_completed (time = completionTime, failure). */
    static byte[] stage(StageInfo si, boolean completed) throws Exception {
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

    private static final byte[] TASK_START = JsonLine.ascii("{\"k\":\"task_start\",\"task_id\":");
    private static final byte[] TASK_END = JsonLine.ascii("{\"k\":\"task_end\",\"task_id\":");
    private static final byte[] STAGE_ID = JsonLine.ascii(",\"stage_id\":");
    private static final byte[] STAGE_ATTEMPT = JsonLine.ascii(",\"stage_attempt\":");
    private static final byte[] INDEX = JsonLine.ascii(",\"index\":");
    private static final byte[] PARTITION = JsonLine.ascii(",\"partition\":");
    private static final byte[] ATTEMPT = JsonLine.ascii(",\"attempt\":");
    private static final byte[] LAUNCH = JsonLine.ascii(",\"launch\":");
    private static final byte[] SPECULATIVE = JsonLine.ascii(",\"speculative\":");
    private static final byte[] FINISH = JsonLine.ascii(",\"finish\":");
    private static final byte[] STATUS = JsonLine.ascii(",\"status\":");
    private static final byte[] REASON = JsonLine.ascii(",\"reason\":");
    /** The name {@link #reasonName} gives a successful task's reason. */
    static final String SUCCESS = "Success";
    private static final byte[] STATUS_REASON_SUCCESS = JsonLine.ascii(",\"status\":\"success\",\"reason\":\"Success\"");
    private static final byte[] RUN_MS = JsonLine.ascii(",\"run_ms\":");
    private static final byte[] CPU_NS = JsonLine.ascii(",\"cpu_ns\":");
    private static final byte[] GC_MS = JsonLine.ascii(",\"gc_ms\":");
    private static final byte[] SHUFFLE_READ_BYTES = JsonLine.ascii(",\"shuffle_read_bytes\":");
    private static final byte[] SHUFFLE_WRITE_BYTES = JsonLine.ascii(",\"shuffle_write_bytes\":");
    private static final byte[] MEMORY_SPILLED = JsonLine.ascii(",\"memory_spilled\":");
    private static final byte[] DISK_SPILLED = JsonLine.ascii(",\"disk_spilled\":");
    private static final byte[] INPUT_BYTES = JsonLine.ascii(",\"input_bytes\":");
    private static final byte[] OUTPUT_BYTES = JsonLine.ascii(",\"output_bytes\":");
    private static final byte[] PEAK_MEMORY = JsonLine.ascii(",\"peak_memory\":");

    /** Appends a task_start line (without its newline) to the sender's batch. */
    static void taskStart(JsonLine out, Captured t) {
        taskFields(out.raw(TASK_START), t)
                .raw(SPECULATIVE).bool(t.speculative)
                .raw('}');
    }

    /** Appends a task_end line (without its newline) to the sender's batch. */
    static void taskEnd(JsonLine out, Captured t) {
        taskFields(out.raw(TASK_END), t)
                .raw(FINISH).num(t.finish);
        if (t.reason == SUCCESS) { // nearly every task: pre-encoded
            out.raw(STATUS_REASON_SUCCESS);
        } else {
            out.raw(STATUS).str(status(t.reason)).raw(REASON).str(t.reason);
        }
        out.raw(SPECULATIVE).bool(t.speculative);
        if (t.hasMetrics) { // a failed task may come without metrics: the wire defaults are zeros
            out.raw(RUN_MS).num(t.runMs)
                    .raw(CPU_NS).num(t.cpuNs)
                    .raw(GC_MS).num(t.gcMs)
                    .raw(SHUFFLE_READ_BYTES).num(t.shuffleReadBytes)
                    .raw(SHUFFLE_WRITE_BYTES).num(t.shuffleWriteBytes)
                    .raw(MEMORY_SPILLED).num(t.memorySpilled)
                    .raw(DISK_SPILLED).num(t.diskSpilled)
                    .raw(INPUT_BYTES).num(t.inputBytes)
                    .raw(OUTPUT_BYTES).num(t.outputBytes)
                    .raw(PEAK_MEMORY).num(t.peakMemory);
        }
        out.raw('}');
    }

    /** The fields task_start and task_end share, after the opening {@code "task_id":}. */
    private static JsonLine taskFields(JsonLine j, Captured t) {
        return j.num(t.taskId)
                .raw(STAGE_ID).num(t.stageId)
                .raw(STAGE_ATTEMPT).num(t.stageAttempt)
                .raw(INDEX).num(t.index)
                .raw(PARTITION).num(t.partition)
                .raw(ATTEMPT).num(t.attempt)
                .raw(EXEC_ID).str(t.execId)
                .raw(LAUNCH).num(t.launch);
    }

    static String reasonName(TaskEndReason reason) {
        if (reason == Success$.MODULE$) {
            return SUCCESS; // nearly every task: no class-value lookup on the bus thread
        }
        return reason == null ? "" : REASON_NAME.get(reason.getClass());
    }

    /** task_end.status from the reason's name: success, killed, resubmitted, else failed. */
    static String status(String reasonName) {
        if (SUCCESS.equals(reasonName)) {
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
