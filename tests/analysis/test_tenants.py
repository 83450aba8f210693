"""The tenant ledger on synthetic streams: attribution, exact sums, ownership of cache, folding, bounds."""

from __future__ import annotations

import itertools
import random
from fractions import Fraction
from typing import Any

import pytest

from conftest import summary
from sparkprobe.analysis.state import AppState, Limits
from sparkprobe.analysis.tenants import MAX_LABEL_CHARS, parse_job_tag, tenant_label
from sparkprobe.events import (
    AppEnd,
    AppStart,
    BlockUpdated,
    Conf,
    ConnectServerStarted,
    ExecutorAdded,
    ExecutorRemoved,
    JobEnd,
    JobStart,
    RddInfo,
    SessionClosed,
    SessionStarted,
    StageCompleted,
    StageSubmitted,
    TaskEnd,
    TaskStart,
)
from sparkprobe.sources.sparkjson import decode

S1 = "11111111-1111-4111-8111-111111111111"
S2 = "22222222-2222-4222-8222-222222222222"


def op_tag(user: str, session: str, op: str = "33333333-3333-4333-8333-333333333333") -> str:
    """Spark Connect's operation tag (ExecuteHolder.scala, ExecuteJobTag)."""
    return f"SparkConnect_OperationTag_User_{user}_Session_{session}_Operation_{op}"


def session_tag(user: str, session: str, tag: str) -> str:
    """Spark Connect's tag for a client's SparkSession.addTag (ExecuteSessionTag)."""
    return f"SparkConnect_SessionTag_User_{user}_Session_{session}_Tag_{tag}"


def rows(snap: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {t["id"]: t for t in snap["tenants"] if t["kind"] == kind}


def assert_partition(snap: dict[str, Any], kind: str) -> None:
    """The tenants of a partitioning kind sum exactly to the app's figures."""
    got = rows(snap, kind)
    assert got, f"no {kind} tenants"
    ms = round(sum(t["busy_core_seconds"] for t in got.values()) * 1000)
    assert ms == round(snap["busy_core_seconds"] * 1000)
    ms = round(sum(t["task_seconds"] for t in got.values()) * 1000)
    assert ms == round(snap["tasks"]["run_seconds"] * 1000)
    assert sum(t["cache_lost_bytes"] for t in got.values()) == snap["cache_lost_bytes"]
    assert sum(t["cached_bytes"] for t in got.values()) == sum(snap["cached_bytes"].values())
    ms = round(sum(t["recompute_seconds"] for t in got.values()) * 1000)
    assert ms == round(snap["cache_recompute_seconds"] * 1000)


# ------------------------------------------------------------------------------ tags and labels


def test_connect_operation_tag_is_split_from_the_right() -> None:
    assert parse_job_tag(op_tag("alice", S1)) == ("operation", "alice", S1)
    # A user id is free text: it may hold Connect's own separators.
    assert parse_job_tag(op_tag("a_Session_b_Operation_c", S1)) == ("operation", "a_Session_b_Operation_c", S1)
    assert parse_job_tag(op_tag("", S1)) == ("operation", "", S1)
    assert parse_job_tag(session_tag("bob", S2, "etl_Tag_x")) == ("tag", "bob", "etl_Tag_x")
    assert parse_job_tag(f"SparkConnect_Execute_User_bob_Session_{S2}_Tag_nightly") == ("tag", "bob", "nightly")
    assert parse_job_tag("SparkConnect_SomethingNew_1") == ("internal", "", "")
    assert parse_job_tag("SparkConnect_OperationTag_User_broken") == ("internal", "", "")
    assert parse_job_tag("nightly") is None
    # A classic SparkSession's own tags (seen on every SQL job of Spark 4, Connect's too) are Spark's.
    sid, tid = "5677db47-69a3-4c70-b44e-b27fae272896", "af298658-263e-4f6c-86dd-ba3d941b6b21"
    assert parse_job_tag(f"spark-session-{sid}") == ("internal", "", "")
    assert parse_job_tag(f"spark-session-{sid}-execution-root-id-12") == ("internal", "", "")
    assert parse_job_tag(f"spark-session-{sid}-thread-{tid}-nightly") == ("tag", "", "nightly")
    assert parse_job_tag("spark-session-mine") is None  # not Spark's shape: the user's own tag


def test_labels_are_printable_bounded_distinct_and_never_reserved() -> None:
    assert tenant_label("alice") == "alice"
    assert tenant_label("a\nb\x00c") == "a?b?c"
    assert tenant_label("other") == "=other" and tenant_label("none") == "=none"
    assert tenant_label("=other") == "==other"
    long_a, long_b = "x" * 500 + "a", "x" * 500 + "b"
    la, lb = tenant_label(long_a), tenant_label(long_b)
    assert la != lb and len(la) <= MAX_LABEL_CHARS and len(lb) <= MAX_LABEL_CHARS
    assert tenant_label(long_a) == la  # stable: the same id always gets the same label


# ------------------------------------------------------------------------------ a Connect server


def connect_app(max_tenants: int = 50) -> AppState:
    """Two sessions (alice caches, bob does not) on two 1-core executors under dynamic allocation.

    alice's job 0 caches RDD 5 (2 partitions, one per executor); executor 2 is reclaimed and loses
    its block; bob's job 2 reads RDD 5 and rebuilds the lost partition on executor 1.
    """
    s = AppState("app-c", Limits(max_tenants=max_tenants))
    s.apply(AppStart("app-c", "Spark Connect server", "srv", 0))
    s.apply(Conf({"spark.dynamicAllocation.enabled": "true"}))
    s.apply(ExecutorAdded("1", "h1", 1, 0))
    s.apply(ExecutorAdded("2", "h2", 1, 0))
    s.apply(SessionStarted(S1, "alice", 1_000))
    s.apply(SessionStarted(S2, "bob", 1_500))
    cached = RddInfo(5, "cached", "", (), True, False, 1, 2)
    # alice's job 0 (tagged "etl" by her client) caches RDD 5.
    s.apply(JobStart(0, 2_000, (0,), tags=(op_tag("alice", S1), session_tag("alice", S1, "etl"))))
    s.apply(StageSubmitted(0, 0, "count", 2, 2_000, (cached,)))
    s.apply(TaskStart(1, 0, 0, 0, 0, 0, "1", 2_000))
    s.apply(TaskStart(2, 0, 0, 1, 1, 0, "2", 2_000))
    s.apply(BlockUpdated("rdd_5_0", "1", True, False, False, True, 1, 1_000, 0))
    s.apply(BlockUpdated("rdd_5_1", "2", True, False, False, True, 1, 3_000, 0))
    s.apply(TaskEnd(1, 0, 0, 0, 0, 0, "1", 2_000, 4_000, "success", run_ms=1_900))
    s.apply(TaskEnd(2, 0, 0, 1, 1, 0, "2", 2_000, 5_000, "success", run_ms=2_900))
    s.apply(StageCompleted(0, 0, "count", 2, 5_000, rdds=(cached,)))
    s.apply(JobEnd(0, 5_000, True))
    # bob's job 1 (uncached) and alice's job 3 run at the same time on executor 1.
    s.apply(JobStart(1, 6_000, (1,), tags=(op_tag("bob", S2),)))
    s.apply(StageSubmitted(1, 0, "range", 1, 6_000))
    s.apply(TaskStart(3, 1, 0, 0, 0, 0, "1", 6_000))
    s.apply(JobStart(3, 6_500, (3,), tags=(op_tag("alice", S1),)))
    s.apply(StageSubmitted(3, 0, "sum", 1, 6_500))
    s.apply(TaskStart(4, 3, 0, 0, 0, 0, "1", 6_500))  # two tasks on a 1-core executor: they share it
    s.apply(TaskEnd(3, 1, 0, 0, 0, 0, "1", 6_000, 8_000, "success", run_ms=1_900))
    s.apply(TaskEnd(4, 3, 0, 0, 0, 0, "1", 6_500, 9_000, "success", run_ms=2_400))
    s.apply(StageCompleted(1, 0, "range", 1, 8_000))
    s.apply(StageCompleted(3, 0, "sum", 1, 9_000))
    s.apply(JobEnd(1, 8_000, True))
    s.apply(JobEnd(3, 9_000, True))
    s.apply(ExecutorRemoved("2", 20_000, "Executor killed by driver."))
    # bob's job 2 reads alice's cache and rebuilds the lost partition.
    s.apply(JobStart(2, 21_000, (2,), tags=(op_tag("bob", S2),)))
    s.apply(StageSubmitted(2, 0, "count", 2, 21_000, (cached,)))
    s.apply(TaskStart(5, 2, 0, 0, 0, 0, "1", 21_000))
    s.apply(TaskEnd(5, 2, 0, 0, 0, 0, "1", 21_000, 21_500, "success", run_ms=400))
    s.apply(TaskStart(6, 2, 0, 1, 1, 0, "1", 21_500))
    s.apply(BlockUpdated("rdd_5_1", "1", True, False, False, True, 1, 3_000, 0))
    s.apply(TaskEnd(6, 2, 0, 1, 1, 0, "1", 21_500, 24_000, "success", run_ms=2_400))
    s.apply(StageCompleted(2, 0, "count", 2, 24_000, rdds=(cached,)))
    s.apply(JobEnd(2, 24_000, True))
    s.apply(SessionClosed(S2, "bob", 25_000))
    s.apply(SessionClosed(S1, "alice", 26_000))
    s.apply(AppEnd(30_000))
    return s


def test_connect_sessions_users_and_tags() -> None:
    snap = summary(connect_app())
    sessions, users, tags = rows(snap, "session"), rows(snap, "user"), rows(snap, "tag")
    assert set(sessions) == {S1, S2} and set(users) == {"alice", "bob"}  # no "none": all work had a session
    assert set(tags) == {"etl", "none"}
    for kind in ("session", "user"):
        assert_partition(snap, kind)
    a, b = sessions[S1], sessions[S2]
    assert (a["user"], a["start_ms"], a["end_ms"]) == ("alice", 1_000, 26_000)
    assert (b["user"], b["start_ms"], b["end_ms"]) == ("bob", 1_500, 25_000)
    # Task seconds: alice 2 + 3 + 2.5, bob 2 + 0.5 + 2.5.
    assert a["task_seconds"] == pytest.approx(7.5) and b["task_seconds"] == pytest.approx(5.0)
    # Busy: executor 1 is shared 6.5 s .. 8 s by one task of each (0.75 core-s each).
    assert a["busy_core_seconds"] == pytest.approx(2 + 3 + 0.75 + 1.0)
    assert b["busy_core_seconds"] == pytest.approx(0.5 + 0.75 + 0.5 + 2.5)
    # The loss is alice's (her job cached RDD 5), the rebuild bob's (his task did it).
    assert (a["cache_lost_bytes"], b["cache_lost_bytes"]) == (3_000, 0)
    assert (a["recompute_seconds"], b["recompute_seconds"]) == (0.0, pytest.approx(2.4))
    assert (a["cached_bytes"], b["cached_bytes"]) == (4_000, 0)
    assert users["alice"]["busy_core_seconds"] == a["busy_core_seconds"]
    assert tags["etl"]["user"] == "alice" and tags["etl"]["task_seconds"] == pytest.approx(5.0)
    assert tags["etl"]["task_seconds"] + tags["none"]["task_seconds"] == pytest.approx(snap["tasks"]["run_seconds"])
    assert snap["tenants_folded"] == {}


def test_idle_with_no_session_open_is_its_own_cause() -> None:
    # Executor 1 after the last session closed holds cached blocks: cache_held comes first.
    s = connect_app()
    assert summary(s)["idle_by_cause"]["no_session"] == 0.0 and s.tenants.no_session_active
    s2 = AppState("app-n")
    for e in (AppStart("app-n", "srv", "u", 0), ExecutorAdded("1", "h", 1, 0), SessionStarted(S1, "alice", 10_000),
              SessionClosed(S1, "alice", 15_000), AppEnd(20_000)):
        s2.apply(e)
    got = summary(s2)["idle_by_cause"]
    # Before the first session nothing says this is a Connect server: driver_busy; after the close: no_session.
    assert got["driver_busy"] == pytest.approx(15.0) and got["no_session"] == pytest.approx(5.0)
    assert sum(got.values()) == pytest.approx(summary(s2)["idle_executor_seconds"])


# ------------------------------------------------------------------------------ the split, checked independently


def independent_busy(spans: list[tuple[int, int, str]], cores: int) -> dict[str, Fraction]:
    """Per tenant: ∫ min(tasks, cores) / tasks dt over each of its spans (a sweep over all spans)."""
    edges = sorted({t for a, b, _ in spans for t in (a, b)})
    out: dict[str, Fraction] = {}
    for lo, hi in itertools.pairwise(edges):
        running = [who for a, b, who in spans if a <= lo and b >= hi]
        if running:
            each = Fraction(min(len(running), cores) * (hi - lo), len(running))
            for who in running:
                out[who] = out.get(who, Fraction(0)) + each
    return out


@pytest.mark.parametrize("seed", range(5))
def test_busy_split_equals_an_independent_sweep(seed: int) -> None:
    rng = random.Random(seed)
    cores = 3
    s = AppState("app-r")
    s.apply(AppStart("app-r", "r", "u", 0))
    s.apply(ExecutorAdded("1", "h", cores, 0))
    who = [S1, S2, "33333333-3333-4333-8333-333333333333"]
    for i, session in enumerate(who):
        s.apply(JobStart(i, 0, (i,), tags=(op_tag(f"user{i}", session),)))
        s.apply(StageSubmitted(i, 0, "s", 100, 0))
    spans = []
    for task_id in range(60):
        start = rng.randrange(0, 50_000)
        spans.append((start, start + rng.randrange(1, 9_000), task_id % 3))
    events = []
    for task_id, (a, b, stage) in enumerate(spans):
        events.append((a, 1, TaskStart(task_id, stage, 0, task_id, task_id, 0, "1", a)))
        events.append((b, 0, TaskEnd(task_id, stage, 0, task_id, task_id, 0, "1", a, b, "success")))
    for _, _, e in sorted(events, key=lambda x: (x[0], x[1])):
        s.apply(e)
    s.apply(AppEnd(60_000))
    snap = summary(s)
    assert_partition(snap, "session")
    expected = independent_busy([(a, b, who[st]) for a, b, st in spans], cores)
    got = rows(snap, "session")
    for session, value in expected.items():
        # Integer core-ms per segment: within 1 ms per task event of the exact share.
        assert abs(got[session]["busy_core_seconds"] * 1000 - float(value)) <= 2 * len(spans)


def test_a_running_app_measures_running_tasks_to_now() -> None:
    s = AppState("app-l")
    s.apply(AppStart("app-l", "l", "u", 0))
    s.apply(ExecutorAdded("1", "h", 2, 0))
    s.apply(JobStart(0, 0, (0,), tags=("a",)))
    s.apply(JobStart(1, 0, (1,), tags=("b",)))
    s.apply(StageSubmitted(0, 0, "s", 1, 0))
    s.apply(StageSubmitted(1, 0, "s", 1, 0))
    s.apply(TaskStart(1, 0, 0, 0, 0, 0, "1", 1_000))
    s.apply(TaskStart(2, 1, 0, 0, 0, 0, "1", 2_000))
    snap = summary(s, now_ms=5_000)
    tags = rows(snap, "tag")
    assert tags["a"]["busy_core_seconds"] == pytest.approx(4.0) and tags["b"]["busy_core_seconds"] == pytest.approx(3.0)
    assert snap["busy_core_seconds"] == pytest.approx(7.0)


# ------------------------------------------------------------------------------ classic apps


def test_classic_tags_groups_and_pools() -> None:
    s = AppState("app-k")
    s.apply(AppStart("app-k", "k", "u", 0))
    s.apply(ExecutorAdded("1", "h", 1, 0))
    jobs = [
        (0, ("nightly", "finance"), "g1", "etl"),
        (1, ("nightly",), "", "etl"),
        (2, (), "g2", ""),
        (3, (), "", ""),
    ]
    t = 0
    for job_id, tags, group, pool in jobs:
        s.apply(JobStart(job_id, t, (job_id,), tags=tags, job_group=group, pool=pool))
        s.apply(StageSubmitted(job_id, 0, "s", 1, t))
        s.apply(TaskStart(job_id, job_id, 0, 0, 0, 0, "1", t))
        s.apply(TaskEnd(job_id, job_id, 0, 0, 0, 0, "1", t, t + 1_000 * (job_id + 1), "success"))
        s.apply(StageCompleted(job_id, 0, "s", 1, t + 1_000 * (job_id + 1)))
        s.apply(JobEnd(job_id, t + 1_000 * (job_id + 1), True))
        t += 1_000 * (job_id + 1)
    s.apply(AppEnd(t))
    snap = summary(s)
    assert rows(snap, "session") == {} and rows(snap, "user") == {}
    tags = rows(snap, "tag")
    # Tags overlap: job 0 counts fully for both of its tags; "none" is the untagged jobs 2 and 3.
    assert {k: v["task_seconds"] for k, v in tags.items()} == {"nightly": 3.0, "finance": 1.0, "none": 7.0}
    groups = {k: v["busy_core_seconds"] for k, v in rows(snap, "job_group").items()}
    assert groups == {"g1": 1.0, "g2": 3.0, "none": 6.0}
    assert {k: v["busy_core_seconds"] for k, v in rows(snap, "pool").items()} == {"etl": 3.0, "none": 7.0}
    for kind in ("job_group", "pool"):
        assert_partition(snap, kind)


def test_an_app_without_tenants_reports_none_and_costs_nothing() -> None:
    s = AppState("app-0")
    s.apply(AppStart("app-0", "plain", "u", 0))
    s.apply(ExecutorAdded("1", "h", 1, 0))
    s.apply(JobStart(0, 0, (0,)))
    s.apply(StageSubmitted(0, 0, "s", 1, 0))
    s.apply(TaskStart(1, 0, 0, 0, 0, 0, "1", 0))
    s.apply(TaskEnd(1, 0, 0, 0, 0, 0, "1", 0, 1_000, "success"))
    s.apply(AppEnd(2_000))
    snap = summary(s)
    assert snap["tenants"] == [] and snap["tenants_folded"] == {}
    assert snap["idle_by_cause"]["no_session"] == 0.0


def test_a_task_whose_start_was_not_seen_still_counts_for_its_job() -> None:
    s = AppState("app-u")
    s.apply(AppStart("app-u", "u", "u", 0))
    s.apply(ExecutorAdded("1", "h", 1, 0))
    s.apply(JobStart(0, 0, (0,), tags=("late",)))
    s.apply(StageSubmitted(0, 0, "s", 1, 0))
    s.apply(TaskEnd(1, 0, 0, 0, 0, 0, "1", 1_000, 3_000, "success"))  # no TaskStart seen
    s.apply(AppEnd(5_000))
    snap = summary(s)
    assert rows(snap, "tag")["late"]["busy_core_seconds"] == pytest.approx(2.0) == snap["busy_core_seconds"]


# ------------------------------------------------------------------------------ bounded


def many_sessions(n: int, max_tenants: int, *, close: bool) -> AppState:
    s = AppState("app-m", Limits(max_tenants=max_tenants))
    s.apply(AppStart("app-m", "srv", "u", 0))
    s.apply(ExecutorAdded("1", "h", 1, 0))
    t = 0
    for i in range(n):
        session = f"{i:08d}-0000-4000-8000-000000000000"
        s.apply(SessionStarted(session, f"user{i % 7}", t))
        s.apply(JobStart(i, t, (i,), tags=(op_tag(f"user{i % 7}", session), f"run-{i}")))
        s.apply(StageSubmitted(i, 0, "s", 1, t))
        s.apply(TaskStart(i, i, 0, 0, 0, 0, "1", t))
        s.apply(TaskEnd(i, i, 0, 0, 0, 0, "1", t, t + 100 + i, "success"))
        s.apply(StageCompleted(i, 0, "s", 1, t + 100 + i))
        s.apply(JobEnd(i, t + 100 + i, True))
        if close:
            s.apply(SessionClosed(session, f"user{i % 7}", t + 200 + i))
        t += 1_000
    s.apply(AppEnd(t))
    return s


@pytest.mark.parametrize("close", [False, True])
def test_200_sessions_fold_into_other_and_still_sum(close: bool) -> None:
    snap = summary(many_sessions(200, 10, close=close))
    sessions, tags = rows(snap, "session"), rows(snap, "tag")
    assert len(sessions) == 11 and "other" in sessions  # 10 kept, the fold
    assert len(rows(snap, "user")) == 7  # under the cap: every user kept
    assert len(tags) == 11 and snap["tenants_folded"] == {"session": 190, "tag": 190}
    assert_partition(snap, "session")
    assert_partition(snap, "user")
    kept = sorted(k for k in sessions if k != "other")
    if close:
        # Closed idle sessions gave their slots away: the ten most recent are shown.
        assert kept == sorted(f"{i:08d}-0000-4000-8000-000000000000" for i in range(190, 200))
    else:
        assert kept == sorted(f"{i:08d}-0000-4000-8000-000000000000" for i in range(10))


def test_a_session_holding_cache_keeps_its_slot() -> None:
    s = AppState("app-h", Limits(max_tenants=1))
    s.apply(AppStart("app-h", "srv", "u", 0))
    s.apply(ExecutorAdded("1", "h", 1, 0))
    cached = RddInfo(9, "c", "", (), True, False, 1, 1)
    s.apply(SessionStarted(S1, "alice", 0))
    s.apply(JobStart(0, 0, (0,), tags=(op_tag("alice", S1),)))
    s.apply(StageSubmitted(0, 0, "s", 1, 0, (cached,)))
    s.apply(TaskStart(1, 0, 0, 0, 0, 0, "1", 0))
    s.apply(BlockUpdated("rdd_9_0", "1", True, False, False, True, 1, 500, 0))
    s.apply(TaskEnd(1, 0, 0, 0, 0, 0, "1", 0, 1_000, "success"))
    s.apply(JobEnd(0, 1_000, True))
    s.apply(SessionClosed(S1, "alice", 2_000))
    s.apply(SessionStarted(S2, "bob", 3_000))  # no free slot: alice's cache is still there
    s.apply(AppEnd(4_000))
    sessions = rows(summary(s), "session")
    assert set(sessions) == {S1, "other"} and sessions[S1]["cached_bytes"] == 500


def test_hostile_tags_stay_bounded() -> None:
    s = AppState("app-x", Limits(max_tenants=5))
    s.apply(AppStart("app-x", "x", "u", 0))
    for i in range(20_000):
        s.apply(JobStart(i, i, (i,), tags=(f"t{i}\n" + "y" * 10_000,)))
        s.apply(JobEnd(i, i, True))
    snap = summary(s)
    assert len(rows(snap, "tag")) <= 6
    assert snap["tenants_folded"] == {"tag": 20_000 - 5}
    assert snap["over_limit"].get("tenant_folds") == 20_000 - 5 - 10_000
    assert all(len(t["id"]) <= MAX_LABEL_CHARS and t["id"].isprintable() for t in snap["tenants"])
    ledger = s.tenants
    assert len(ledger._charges) <= 100_000 and not ledger._job_charge and not ledger._stage_charge


# ------------------------------------------------------------------------------ event logs


def test_connect_session_events_decode_from_an_event_log() -> None:
    prefix = "org.apache.spark.sql.connect.service.SparkListenerConnectSession"
    started = decode({"Event": prefix + "Started", "sessionId": S1, "userId": "alice", "eventTime": 5, "extraTags": {}})
    assert started == SessionStarted(S1, "alice", 5)
    closed = decode({"Event": prefix + "Closed", "sessionId": S1, "userId": "alice", "eventTime": 9})
    assert closed == SessionClosed(S1, "alice", 9)
    job = decode({
        "Event": "SparkListenerJobStart", "Job ID": 1, "Submission Time": 3, "Stage IDs": [1],
        "Properties": {"spark.job.tags": f"{op_tag('alice', S1)},nightly", "callSite.short": "Spark Connect - plan"},
    })
    assert isinstance(job, JobStart) and job.tags == (op_tag("alice", S1), "nightly")
    assert job.callsite == ""  # a Connect job's callsite is the request's plan: not read
    service = decode({"Event": "org.apache.spark.sql.connect.service.SparkListenerConnectServiceStarted",
                      "hostAddress": "192.0.2.2", "bindingPort": 15002, "eventTime": 4})
    assert service == ConnectServerStarted(4)


def test_a_connect_server_idles_with_no_session_from_its_start() -> None:
    s = AppState("app-s")
    for e in (AppStart("app-s", "srv", "u", 0), ExecutorAdded("1", "h", 1, 0), ConnectServerStarted(2_000),
              SessionStarted(S1, "alice", 10_000), SessionClosed(S1, "alice", 15_000), AppEnd(20_000)):
        s.apply(e)
    got = summary(s)["idle_by_cause"]
    assert got["driver_busy"] == pytest.approx(2.0 + 5.0) and got["no_session"] == pytest.approx(8.0 + 5.0)


def test_connect_stages_are_not_named_after_the_plan() -> None:
    s = AppState("app-p")
    s.apply(AppStart("app-p", "srv", "u", 0))
    s.apply(ExecutorAdded("1", "h", 1, 0))
    s.apply(JobStart(0, 0, (0,), tags=(op_tag("alice", S1),)))
    plan = 'Spark Connect - plan { filter: "secret = 42" }'
    rdd = RddInfo(3, "MapPartitionsRDD", plan, (), True, False, 1, 1)
    s.apply(StageSubmitted(0, 0, plan, 1, 0, (rdd,)))
    s.apply(TaskStart(1, 0, 0, 0, 0, 0, "1", 0))
    s.apply(JobEnd(0, 10, True))
    s.apply(StageCompleted(0, 0, plan, 1, 10, rdds=(rdd,)))  # after its job ended: still scrubbed
    s.apply(BlockUpdated("rdd_3_0", "1", True, False, False, True, 1, 10, 0))
    snap = summary(s)
    assert "secret" not in str(snap)
    assert snap["timeline"]["stages"][0][2] == f"Spark Connect operation (session {S1})"
