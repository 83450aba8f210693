"""Write a :class:`_wiregen.SyntheticApp` as a Spark JSON event log.

The lines have the shape Spark 4.0's ``JsonProtocol`` writes (compare
/work/shared/eventlogs/recorded/spark-4.0.1-plain/): task ends with the task's accumulables, task
executor metrics and the full task metrics, stage infos with their RDD infos, block manager ids,
resource profile. Spark's own ``ReplayListenerBus`` reads them back (``offline.py`` checks that it
counts every line), so sparkprobe and Spark are timed on the same, valid input.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from _wiregen import SyntheticApp

_STORAGE = {
    False: '{"Use Disk":false,"Use Memory":false,"Use Off Heap":false,"Deserialized":false,"Replication":1}',
    True: '{"Use Disk":false,"Use Memory":true,"Use Off Heap":false,"Deserialized":true,"Replication":1}',
}
_DETAILS = json.dumps(
    "org.apache.spark.rdd.RDD.count(RDD.scala:1296)\n"
    "org.apache.spark.api.python.PythonRDD$.collectAndServe(PythonRDD.scala:203)\n"
    "org.apache.spark.api.python.PythonRDD.collectAndServe(PythonRDD.scala)\n"
    "java.base/jdk.internal.reflect.NativeMethodAccessorImpl.invoke0(Native Method)\n"
    "java.base/java.lang.reflect.Method.invoke(Method.java:569)\n"
    "py4j.reflection.MethodInvoker.invoke(MethodInvoker.java:244)\n"
    "py4j.Gateway.invoke(Gateway.java:282)\n"
    "java.base/java.lang.Thread.run(Thread.java:840)"
)
_EXEC_METRICS = (
    '{"JVMHeapMemory":0,"JVMOffHeapMemory":0,"OnHeapExecutionMemory":0,"OffHeapExecutionMemory":0,'
    '"OnHeapStorageMemory":0,"OffHeapStorageMemory":0,"OnHeapUnifiedMemory":0,"OffHeapUnifiedMemory":0,'
    '"DirectPoolMemory":0,"MappedPoolMemory":0,"ProcessTreeJVMVMemory":0,"ProcessTreeJVMRSSMemory":0,'
    '"ProcessTreePythonVMemory":0,"ProcessTreePythonRSSMemory":0,"ProcessTreeOtherVMemory":0,'
    '"ProcessTreeOtherRSSMemory":0,"MinorGCCount":0,"MinorGCTime":0,"MajorGCCount":0,"MajorGCTime":0,'
    '"TotalGCTime":0,"ConcurrentGCCount":0,"ConcurrentGCTime":0}'
)


def _rdd_info(r: Any) -> str:
    scope = f'"Scope":{json.dumps(json.dumps({"id": str(r.rdd_id), "name": r.scope}))},' if r.scope else ""
    parents = ",".join(map(str, r.parents))
    return (f'{{"RDD ID":{r.rdd_id},"Name":"{r.name}",{scope}"Callsite":"{r.callsite}","Parent IDs":[{parents}],'
            f'"Storage Level":{_STORAGE[r.cached]},"Barrier":false,"DeterministicLevel":"DETERMINATE",'
            f'"Number of Partitions":{r.partitions},"Number of Cached Partitions":0,"Memory Size":0,"Disk Size":0}}')


def _stage_info(sid: int, name: str, n: int, rdds: Any, submitted: int, completed: int | None) -> str:
    done = f',"Completion Time":{completed}' if completed is not None else ""
    return (f'{{"Stage ID":{sid},"Stage Attempt ID":0,"Stage Name":"{name}","Number of Tasks":{n},'
            f'"RDD Info":[{",".join(_rdd_info(r) for r in rdds)}],"Parent IDs":[],"Details":{_DETAILS},'
            f'"Submission Time":{submitted}{done},"Accumulables":[],"Resource Profile Id":0,'
            '"Shuffle Push Enabled":false,"Shuffle Push Mergers Count":0}')


def _props(name: str) -> str:
    return (f'{{"spark.rdd.scope":"{{\\"id\\":\\"1\\",\\"name\\":\\"collect\\"}}","callSite.short":"{name}",'
            '"spark.rdd.scope.noOverride":"true","resource.executor.cores":"4"}')


def _bm(ex: str, host: str) -> str:
    return f'{{"Executor ID":"{ex}","Host":"{host}","Port":{40000 + int(ex) % 20000 if ex.isdigit() else 45431}}}'


def write_eventlog(app: SyntheticApp, path: Path, spark_version: str = "4.0.1") -> dict[str, Any]:
    """Write ``app`` as a Spark event log at ``path``; returns lines, bytes and lines per kind."""
    counts: dict[str, int] = {}
    n_lines = 0
    n_bytes = 0
    app_id = app.app_id
    cores = app.cores
    stage_submit: dict[int, int] = {}
    with open(path, "w", encoding="utf-8", buffering=4 << 20) as out:

        def w(kind: str, line: str) -> None:
            nonlocal n_lines, n_bytes
            out.write(line)
            out.write("\n")
            n_lines += 1
            n_bytes += len(line) + 1
            counts[kind] = counts.get(kind, 0) + 1

        w("LogStart", f'{{"Event":"SparkListenerLogStart","Spark Version":"{spark_version}"}}')
        w("ResourceProfileAdded",
          '{"Event":"SparkListenerResourceProfileAdded","Resource Profile Id":0,"Executor Resource Requests":'
          f'{{"cores":{{"Resource Name":"cores","Amount":{cores},"Discovery Script":"","Vendor":""}},'
          '"memory":{"Resource Name":"memory","Amount":8192,"Discovery Script":"","Vendor":""},'
          '"offHeap":{"Resource Name":"offHeap","Amount":0,"Discovery Script":"","Vendor":""}},'
          '"Task Resource Requests":{"cpus":{"Resource Name":"cpus","Amount":1.0}}}')
        for ev in app.events():
            kind = ev[0]
            if kind == "task_end":
                _, tid, sid, idx, ex, launch, finish, run = ev
                cpu = run * 731_000
                gc = run // 40
                host = app.host(ex)
                acc = (f'[{{"ID":38,"Name":"internal.metrics.executorDeserializeTime","Update":3,"Value":3,'
                       '"Internal":true,"Count Failed Values":true},'
                       '{"ID":39,"Name":"internal.metrics.executorDeserializeCpuTime","Update":2408364,'
                       '"Value":2408364,"Internal":true,"Count Failed Values":true},'
                       f'{{"ID":40,"Name":"internal.metrics.executorRunTime","Update":{run},"Value":{run},'
                       '"Internal":true,"Count Failed Values":true},'
                       f'{{"ID":41,"Name":"internal.metrics.executorCpuTime","Update":{cpu},"Value":{cpu},'
                       '"Internal":true,"Count Failed Values":true},'
                       '{"ID":42,"Name":"internal.metrics.resultSize","Update":1515,"Value":1515,'
                       '"Internal":true,"Count Failed Values":true},'
                       f'{{"ID":43,"Name":"internal.metrics.jvmGCTime","Update":{gc},"Value":{gc},'
                       '"Internal":true,"Count Failed Values":true},'
                       '{"ID":44,"Name":"internal.metrics.resultSerializationTime","Update":1,"Value":1,'
                       '"Internal":true,"Count Failed Values":true}]')
                w("TaskEnd",
                  f'{{"Event":"SparkListenerTaskEnd","Stage ID":{sid},"Stage Attempt ID":0,"Task Type":"ResultTask",'
                  '"Task End Reason":{"Reason":"Success"},'
                  f'"Task Info":{{"Task ID":{tid},"Index":{idx},"Attempt":0,"Partition ID":{idx},'
                  f'"Launch Time":{launch},"Executor ID":"{ex}","Host":"{host}","Locality":"PROCESS_LOCAL",'
                  f'"Speculative":false,"Getting Result Time":0,"Finish Time":{finish},"Failed":false,'
                  f'"Killed":false,"Accumulables":{acc}}},'
                  f'"Task Executor Metrics":{_EXEC_METRICS},'
                  '"Task Metrics":{"Executor Deserialize Time":3,"Executor Deserialize CPU Time":2408364,'
                  f'"Executor Run Time":{run},"Executor CPU Time":{cpu},"Peak Execution Memory":{run * 1024},'
                  f'"Peak On Heap Execution Memory":{run * 1024},"Peak Off Heap Execution Memory":0,'
                  f'"Result Size":1515,"JVM GC Time":{gc},"Result Serialization Time":1,'
                  '"Memory Bytes Spilled":0,"Disk Bytes Spilled":0,'
                  '"Shuffle Read Metrics":{"Remote Blocks Fetched":0,"Local Blocks Fetched":0,"Fetch Wait Time":0,'
                  '"Remote Bytes Read":0,"Remote Bytes Read To Disk":0,"Local Bytes Read":0,'
                  '"Total Records Read":0,"Remote Requests Duration":0,"Push Based Shuffle":{'
                  '"Corrupt Merged Block Chunks":0,"Merged Fetch Fallback Count":0,'
                  '"Merged Remote Blocks Fetched":0,"Merged Local Blocks Fetched":0,'
                  '"Merged Remote Chunks Fetched":0,"Merged Local Chunks Fetched":0,'
                  '"Merged Remote Bytes Read":0,"Merged Local Bytes Read":0,"Merged Remote Requests Duration":0}},'
                  '"Shuffle Write Metrics":{"Shuffle Bytes Written":0,"Shuffle Write Time":0,'
                  '"Shuffle Records Written":0},'
                  f'"Input Metrics":{{"Bytes Read":{idx * 4096 + 131072},"Records Read":{idx + 1000}}},'
                  '"Output Metrics":{"Bytes Written":0,"Records Written":0},"Updated Blocks":[]}}')
            elif kind == "task_start":
                _, tid, sid, idx, ex, launch = ev
                w("TaskStart",
                  f'{{"Event":"SparkListenerTaskStart","Stage ID":{sid},"Stage Attempt ID":0,'
                  f'"Task Info":{{"Task ID":{tid},"Index":{idx},"Attempt":0,"Partition ID":{idx},'
                  f'"Launch Time":{launch},"Executor ID":"{ex}","Host":"{app.host(ex)}","Locality":"PROCESS_LOCAL",'
                  '"Speculative":false,"Getting Result Time":0,"Finish Time":0,"Failed":false,"Killed":false,'
                  '"Accumulables":[]}}')
            elif kind == "block_updated":
                _, block, ex, size = ev
                w("BlockUpdated",
                  f'{{"Event":"SparkListenerBlockUpdated","Block Updated Info":{{"Block Manager ID":'
                  f'{_bm(ex, app.host(ex))},"Block ID":"{block}","Storage Level":{_STORAGE[True]},'
                  f'"Memory Size":{size},"Disk Size":0}}}}')
            elif kind == "executor_added":
                _, ex, t = ev
                host = app.host(ex)
                w("ExecutorAdded",
                  f'{{"Event":"SparkListenerExecutorAdded","Timestamp":{t},"Executor ID":"{ex}","Executor Info":'
                  f'{{"Host":"{host}","Total Cores":{cores},"Log Urls":{{"stdout":"http://{host}:8042/node/'
                  f'containerlogs/container_{ex}/stdout","stderr":"http://{host}:8042/node/containerlogs/'
                  f'container_{ex}/stderr"}},"Attributes":{{}},"Resources":{{}},"Resource Profile Id":0,'
                  f'"Registration Time":{t},"Request Time":{t - 1500}}}}}')
                w("BlockManagerAdded",
                  f'{{"Event":"SparkListenerBlockManagerAdded","Block Manager ID":{_bm(ex, host)},'
                  f'"Maximum Memory":4771741286,"Timestamp":{t},"Maximum Onheap Memory":4771741286,'
                  '"Maximum Offheap Memory":0}')
            elif kind == "executor_removed":
                _, ex, t = ev
                w("ExecutorRemoved",
                  f'{{"Event":"SparkListenerExecutorRemoved","Timestamp":{t},"Executor ID":"{ex}",'
                  '"Removed Reason":"Executor killed by driver."}')
                w("BlockManagerRemoved",
                  f'{{"Event":"SparkListenerBlockManagerRemoved","Block Manager ID":{_bm(ex, app.host(ex))},'
                  f'"Timestamp":{t + 12}}}')
            elif kind == "job_start":
                _, jid, t, sid, name, n, rdds = ev
                w("JobStart",
                  f'{{"Event":"SparkListenerJobStart","Job ID":{jid},"Submission Time":{t},'
                  f'"Stage Infos":[{_stage_info(sid, name, n, rdds, t, None)}],"Stage IDs":[{sid}],'
                  f'"Properties":{_props(name)}}}')
            elif kind == "stage_submitted":
                _, sid, t, name, n, rdds = ev
                stage_submit[sid] = t
                w("StageSubmitted",
                  f'{{"Event":"SparkListenerStageSubmitted","Stage Info":{_stage_info(sid, name, n, rdds, t, None)},'
                  f'"Properties":{_props(name)}}}')
            elif kind == "stage_completed":
                _, sid, t, name, n, rdds = ev
                w("StageCompleted",
                  f'{{"Event":"SparkListenerStageCompleted","Stage Info":'
                  f'{_stage_info(sid, name, n, rdds, stage_submit.pop(sid, t), t)}}}')
            elif kind == "job_end":
                _, jid, t = ev
                w("JobEnd", f'{{"Event":"SparkListenerJobEnd","Job ID":{jid},"Completion Time":{t},'
                            '"Job Result":{"Result":"JobSucceeded"}}')
            elif kind == "unpersist_rdd":
                w("UnpersistRDD", f'{{"Event":"SparkListenerUnpersistRDD","RDD ID":{ev[1]}}}')
            elif kind == "app_start":
                t = ev[1]
                w("BlockManagerAdded",
                  f'{{"Event":"SparkListenerBlockManagerAdded","Block Manager ID":{_bm("driver", "10.0.0.1")},'
                  f'"Maximum Memory":455501414,"Timestamp":{t + 900},"Maximum Onheap Memory":455501414,'
                  '"Maximum Offheap Memory":0}')
                w("EnvironmentUpdate", _environment(app, t))
                w("ApplicationStart",
                  f'{{"Event":"SparkListenerApplicationStart","App Name":"bench {app_id}","App ID":"{app_id}",'
                  f'"Timestamp":{t},"User":"bench"}}')
            elif kind == "app_end":
                w("ApplicationEnd", f'{{"Event":"SparkListenerApplicationEnd","Timestamp":{ev[1]},"ExitCode":0}}')
            # conf (inside EnvironmentUpdate) and listener_stats (wire only) have no line of their own
    return {"lines": n_lines, "bytes": n_bytes, "by_kind": counts, "tasks": app.stats.tasks,
            "executors_added": app.stats.executors_added, "block_updates": app.stats.block_updates}


def _environment(app: SyntheticApp, t: int) -> str:
    spark = {
        "spark.app.id": app.app_id, "spark.app.name": f"bench {app.app_id}", "spark.app.startTime": str(t),
        "spark.master": "yarn", "spark.submit.deployMode": "client", "spark.driver.host": "10.0.0.1",
        "spark.driver.port": "32971", "spark.executor.id": "driver", "spark.executor.cores": str(app.cores),
        "spark.executor.memory": "8g", "spark.dynamicAllocation.enabled": "true",
        "spark.dynamicAllocation.minExecutors": str(app.min_executors),
        "spark.dynamicAllocation.maxExecutors": str(app.max_executors),
        "spark.dynamicAllocation.shuffleTracking.enabled": "true",
        "spark.dynamicAllocation.cachedExecutorIdleTimeout": "600s",
        "spark.eventLog.enabled": "true", "spark.eventLog.logBlockUpdates.enabled": "true",
        "spark.eventLog.dir": "hdfs:///spark-history", "spark.serializer.objectStreamReset": "100",
        "spark.sql.shuffle.partitions": "2000", "spark.scheduler.mode": "FIFO",
    }
    hadoop = {f"hadoop.bench.property.{i}": f"value-{i}" for i in range(200)}
    system = {"java.version": "17.0.15", "java.vendor": "Debian", "os.name": "Linux", "os.arch": "amd64",
              "user.name": "bench", "file.encoding": "UTF-8", "sun.java.command": "org.apache.spark.deploy.SparkSubmit"}
    classpath = {f"/opt/spark/jars/lib-{i}.jar": "System Classpath" for i in range(250)}
    return json.dumps({
        "Event": "SparkListenerEnvironmentUpdate",
        "JVM Information": {"Java Home": "/usr/lib/jvm/java-17-openjdk-amd64", "Java Version": "17.0.15 (Debian)",
                            "Scala Version": "version 2.13.16"},
        "Spark Properties": spark, "Hadoop Properties": hadoop, "System Properties": system,
        "Metrics Properties": {}, "Classpath Entries": classpath,
    }, separators=(",", ":"))
