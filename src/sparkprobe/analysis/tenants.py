"""The tenant ledger: who used the executors of a shared app (docs/tenants.md).

A *tenant* is whoever a job ran for: a Spark Connect session and its user (read from the
operation tag Spark Connect puts on every job it runs), a job tag, a job group, a fair-scheduler
pool. Each job gets a :data:`Charge` (the tenants it counts for, one per kind it has, plus every
tag) and everything the job's tasks do is charged to them:

- task seconds: Σ (finish - launch) of its attempts, as ``tasks.run_seconds`` counts them;
- busy core-seconds: each core-ms the executor ledger integrates is split among the charges of
  the tasks running on that executor at that instant, in proportion to their task count (the
  integer remainder by largest remainder), so the sessions' busy core-seconds sum to the app's;
- cached bytes now and cache lost: an RDD belongs to the charge of the job whose stage first
  persisted it; its bytes now, and its bytes lost with an executor, are that charge's;
- recompute seconds: the run time of a task that rebuilt a lost block is paid by its own job's
  charge (which may be another tenant than the owner).

Bounded (invariant 3): at most ``Limits.max_tenants`` tenants per kind; the rest are folded into
one ``other`` tenant per kind and counted. A closed session with no running job and no cached data
gives its slot to a new session (its figures move into ``other``), so a long-running Connect server
keeps showing its recent sessions. Ids are label values: :func:`tenant_label` makes them printable,
bounded and unable to pass for ``other`` or ``none``. The rest of each figure (work with no tenant
of that kind) is reported as ``none``, computed as app total minus the tenants' sum.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, TypeVar

from sparkprobe.events import (
    JobEnd,
    JobStart,
    SessionClosed,
    SessionStarted,
    StageCompleted,
    StageSubmitted,
    TaskEnd,
)
from sparkprobe.model import TenantKind, TenantReport

if TYPE_CHECKING:
    from sparkprobe.analysis.executors import Executor
    from sparkprobe.analysis.state import AppState
    from sparkprobe.analysis.tasks import RunningTask

__all__ = [
    "MAX_LABEL_CHARS",
    "NONE",
    "OTHER",
    "Charge",
    "Tenant",
    "TenantLedger",
    "TenantTotals",
    "parse_job_tag",
    "tenant_label",
]

#: The fold of tenants past the cap, and the work with no tenant of a kind.
OTHER = "other"
NONE = "none"
#: Longest tenant id (a label value): longer ids keep a prefix and a hash of the whole.
MAX_LABEL_CHARS = 100
#: Folded ids remembered per kind (so a folded tenant is counted once); past it, counted in over_limit.
MAX_FOLDED_IDS = 10_000
#: Connect sessions open at once that are tracked (for the ``no_session`` idle cause).
MAX_OPEN_SESSIONS = 100_000
#: Jobs running at once whose charge is kept.
MAX_JOBS = 100_000

_RESERVED = frozenset({OTHER, NONE})
# What Spark Connect sets callSite.short to (ExecuteThreadRunner.scala), and what sparkprobe shows instead.
_CONNECT_CALLSITE = "Spark Connect - "
_CONNECT_OPERATION = "Spark Connect operation"
# Spark Connect's job tags (ExecuteHolder.scala: ExecuteJobTag, ExecuteSessionTag).
_OPERATION_PREFIX = "SparkConnect_OperationTag_User_"
_SESSION_TAG = re.compile(
    r"SparkConnect_SessionTag_User_(?P<user>.*?)_Session_(?P<session>[0-9A-Fa-f-]{36})_Tag_(?P<tag>.*)", re.DOTALL
)
# A classic SparkSession's tags (sql/core SparkSession.scala: sessionJobTag, managedJobTags;
# SQLExecution.executionIdJobTag): its own, an execution's, and a user's SparkSession.addTag.
_UUID = "[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
_CLASSIC_SESSION_TAG = re.compile(
    rf"spark-session-{_UUID}(?:-execution-root-id-[0-9]+|-thread-{_UUID}-(?P<tag>.+))?", re.DOTALL
)
# Spark 3.5's ExecuteHolder.tagToSparkJobTag wrote user tags this way.
_EXECUTE_TAG = re.compile(
    r"SparkConnect_Execute_User_(?P<user>.*?)_Session_(?P<session>[0-9A-Fa-f-]{36})_Tag_(?P<tag>.*)", re.DOTALL
)


def tenant_label(raw: str) -> str:
    """A tenant id fit to be a label value: printable, at most :data:`MAX_LABEL_CHARS`, never reserved.

    Non-printable characters become ``?``; a longer id keeps its head and ``~`` plus 8 hex digits
    of a hash of the whole id (two long ids with one head stay apart); an id that reads ``other``
    or ``none`` (or starts with ``=``) gets a leading ``=``, so no user can pass for the fold.
    """
    head = raw if len(raw) <= MAX_LABEL_CHARS else raw[: MAX_LABEL_CHARS - 10]
    text = head if head.isprintable() else "".join(c if c.isprintable() else "?" for c in head)
    if len(raw) > MAX_LABEL_CHARS:
        digest = hashlib.blake2b(raw.encode("utf-8", "surrogatepass"), digest_size=4).hexdigest()
        text = f"{text}~{digest}"
    if text in _RESERVED or text.startswith("="):
        text = "=" + text
    return text


def parse_job_tag(tag: str) -> tuple[str, str, str] | None:
    """What a ``spark.job.tags`` entry is, when Spark made it: (what, user, id); None for a user's own tag.

    - ``("operation", user, session)``: Spark Connect's
      ``SparkConnect_OperationTag_User_<u>_Session_<s>_Operation_<o>``, on every job of a Connect
      operation. The user id is free text (it may hold ``_Session_``); session and operation ids
      are UUIDs, so the split is taken from the right.
    - ``("tag", user, tag)``: a tag a user set through a wrapper Spark puts around it: Connect's
      ``SparkConnect_SessionTag_User_<u>_Session_<s>_Tag_<t>`` (Spark 3.5:
      ``SparkConnect_Execute_User_..._Tag_<t>``), or a classic ``SparkSession.addTag``'s
      ``spark-session-<uuid>-thread-<uuid>-<t>`` (user empty).
    - ``("internal", "", "")``: Spark's own bookkeeping: ``spark-session-<uuid>`` (every job of a
      SQL session), ``spark-session-<uuid>-execution-root-id-<n>``, any other ``SparkConnect_`` tag.
    """
    if tag.startswith(_OPERATION_PREFIX):
        rest, sep, _operation = tag[len(_OPERATION_PREFIX):].rpartition("_Operation_")
        user, sep2, session = rest.rpartition("_Session_")
        if sep and sep2 and session:
            return "operation", user, session
        return "internal", "", ""
    if tag.startswith("SparkConnect_"):
        m = _SESSION_TAG.fullmatch(tag) or _EXECUTE_TAG.fullmatch(tag)
        if m is not None and m.group("tag"):
            return "tag", m.group("user"), m.group("tag")
        return "internal", "", ""
    if tag.startswith("spark-session-"):
        m = _CLASSIC_SESSION_TAG.fullmatch(tag)
        if m is not None:
            user_tag = m.group("tag")
            return ("tag", "", user_tag) if user_tag else ("internal", "", "")
    return None


@dataclass(eq=False, slots=True)
class Tenant:
    """One tenant's running sums (identity-hashed: a charge is a tuple of these)."""

    kind: TenantKind
    id: str
    user: str = ""
    task_ms: int = 0
    busy_core_ms: int = 0
    lost_bytes: int = 0
    recompute_ms: int = 0
    est_recompute_ms: int = 0
    start_ms: int | None = None
    end_ms: int | None = None
    #: Jobs running and task attempts running now (a session holding either keeps its slot).
    jobs: int = 0
    running: int = 0
    #: Not a reportable tenant (the "has a tag" accumulator).
    hidden: bool = False


_StageEvent = TypeVar("_StageEvent", StageSubmitted, StageCompleted)

#: The tenants one job counts for (empty: none at all, the common case of a classic app).
Charge = tuple[Tenant, ...]
_EMPTY: Charge = ()


@dataclass(frozen=True, slots=True)
class TenantTotals:
    """The app's own totals the ``none`` rows are measured against (integer ms and bytes)."""

    task_ms: int
    busy_core_ms: int
    lost_bytes: int
    recompute_ms: int
    cached_bytes: int
    estimated: bool


class TenantLedger:
    """Tenants of one app, the charge of each running job and task, and who owns each cached RDD."""

    def __init__(self, app: AppState) -> None:
        self._app = app
        self._by_kind: dict[TenantKind, dict[str, Tenant]] = {k: {} for k in TenantKind}
        self._other: dict[TenantKind, Tenant] = {}
        self._folded_ids: dict[TenantKind, set[str]] = {k: set() for k in TenantKind}
        self.folded: dict[TenantKind, int] = {}
        # Work of jobs with at least one tag, counted once per task (the tag rows overlap).
        self._tagged = Tenant(TenantKind.TAG, "", hidden=True)
        self._charges: dict[tuple[str, str, tuple[str, ...], str, str], Charge] = {}
        self._job_charge: dict[int, tuple[Charge, tuple[int, ...]]] = {}
        self._stage_charge: dict[int, Charge] = {}
        # Per executor: charge → task attempts running, for charged attempts only; the executor
        # ledger's running count minus their sum is the uncharged ones (a classic app costs nothing).
        self._running: dict[str, dict[Charge, int]] = {}
        self._task_charge: dict[int, tuple[str, Charge]] = {}
        self._rdd_owner: dict[int, Charge] = {}
        # Stages of Connect jobs → the name they are shown under (Spark names them after the plan).
        self._connect_stages: dict[int, str] = {}
        self._open_sessions: set[str] = set()
        #: A Spark Connect session was seen: idle with none open is ``no_session``.
        self.connect = False
        #: Some job had a charge: until then the per-task hooks are skipped (a classic app's cost).
        self.charged = False

    # ------------------------------------------------------------------ tenants
    def _tenant(self, kind: TenantKind, raw_id: str, user: str = "") -> Tenant:
        key = tenant_label(raw_id)
        slots = self._by_kind[kind]
        found = slots.get(key)
        if found is not None:
            return found
        folded_ids = self._folded_ids[kind]
        if key not in folded_ids:
            limit = self._app.limits.max_tenants
            if len(slots) < limit or (kind is TenantKind.SESSION and self._recycle_session()):
                tenant = slots[key] = Tenant(kind, key, tenant_label(user) if user else "")
                return tenant
            self._count_fold(kind, key)
        return self._fold(kind)

    def _count_fold(self, kind: TenantKind, key: str) -> None:
        self.folded[kind] = self.folded.get(kind, 0) + 1
        folded_ids = self._folded_ids[kind]
        if len(folded_ids) < MAX_FOLDED_IDS:
            folded_ids.add(key)
        else:
            self._app.over("tenant_folds")  # this id may be counted again if it comes back

    def _fold(self, kind: TenantKind) -> Tenant:
        other = self._other.get(kind)
        if other is None:
            other = self._other[kind] = Tenant(kind, OTHER)
        return other

    def _recycle_session(self) -> bool:
        """Give the slot of the earliest-closed idle session (no job, task or cached data) to a new one."""
        slots = self._by_kind[TenantKind.SESSION]
        candidates = [t for t in slots.values() if t.end_ms is not None and t.jobs == 0 and t.running == 0]
        if candidates:  # the owners of cached RDDs are looked up only when a session could go
            holding = {t for charge in self._cached_owners() for t in charge}
            candidates = [t for t in candidates if t not in holding]
        if not candidates:
            return False
        gone = min(candidates, key=lambda t: t.end_ms or 0)  # min keeps the first of equal times
        other = self._fold(TenantKind.SESSION)
        other.task_ms += gone.task_ms
        other.busy_core_ms += gone.busy_core_ms
        other.lost_bytes += gone.lost_bytes
        other.recompute_ms += gone.recompute_ms
        other.est_recompute_ms += gone.est_recompute_ms
        del slots[gone.id]
        self._count_fold(TenantKind.SESSION, gone.id)
        # RDDs it owned (none cached now) now belong to the fold.
        for rdd_id, charge in self._rdd_owner.items():
            if gone in charge:
                self._rdd_owner[rdd_id] = tuple(other if t is gone else t for t in charge)
        self._charges = {k: c for k, c in self._charges.items() if gone not in c}
        return True

    def _cached_owners(self) -> list[Charge]:
        rdds = self._app.storage.rdd_table
        return [
            charge for rdd_id, charge in self._rdd_owner.items()
            if charge and (r := rdds.get(rdd_id)) is not None and r.cached_blocks > 0
        ]

    def _charge_of(self, e: JobStart) -> Charge:
        session = user = ""
        tags: list[str] = []
        for tag in e.tags:
            parsed = parse_job_tag(tag)
            if parsed is None:
                tags.append(tag)
            elif parsed[0] == "operation":
                user, session = parsed[1], parsed[2]
            elif parsed[0] == "tag":
                user = user or parsed[1]
                tags.append(parsed[2])
            # "internal": Spark's own tags are nobody's
        if not (session or tags or e.job_group or e.pool):
            return _EMPTY
        key = (session, user, tuple(sorted(set(tags))), e.job_group, e.pool)
        charge = self._charges.get(key)
        if charge is not None:
            return charge
        members: list[Tenant] = []
        if session:
            members.append(self._tenant(TenantKind.SESSION, session, user))
            self.connect = True
        if user:  # a Connect client that set no user_id: its work is the user kind's "none"
            members.append(self._tenant(TenantKind.USER, user, user))
        for tag in key[2]:
            tenant = self._tenant(TenantKind.TAG, tag, user)
            if tenant.user and user and tenant.user != tenant_label(user):
                tenant.user = "*"  # a tag several users set
            if tenant not in members:
                members.append(tenant)
        if key[2]:
            members.append(self._tagged)
        if e.job_group:
            members.append(self._tenant(TenantKind.JOB_GROUP, e.job_group))
        if e.pool:
            members.append(self._tenant(TenantKind.POOL, e.pool))
        charge = tuple(members)
        self.charged = True
        if len(self._charges) < MAX_JOBS:
            self._charges[key] = charge
        return charge

    # ------------------------------------------------------------------ sessions
    @property
    def no_session_active(self) -> bool:
        """A Spark Connect server with no session open now (the ``no_session`` idle cause)."""
        return self.connect and not self._open_sessions

    def connect_server_started(self) -> None:
        """The app runs the Spark Connect service: idle with no session open is ``no_session``."""
        self.connect = True

    def session_started(self, e: SessionStarted) -> bool:
        """A Connect session started; True when it is the first one open (idle causes change)."""
        tenant = self._tenant(TenantKind.SESSION, e.session_id, e.user)
        if tenant.id != OTHER and tenant.start_ms is None:
            tenant.start_ms = e.time
        if e.user:
            self._tenant(TenantKind.USER, e.user, e.user)
        self.connect = True
        was_none = not self._open_sessions
        if len(self._open_sessions) < MAX_OPEN_SESSIONS:
            self._open_sessions.add(tenant_label(e.session_id))
        else:
            self._app.over("open_sessions")
        return was_none

    def session_closed(self, e: SessionClosed) -> bool:
        """A Connect session closed; True when no session is open any more (idle causes change)."""
        key = tenant_label(e.session_id)
        tenant = self._by_kind[TenantKind.SESSION].get(key)
        if tenant is not None:
            tenant.end_ms = e.time
        had = bool(self._open_sessions)
        self._open_sessions.discard(key)
        self.connect = True
        return had and not self._open_sessions

    # ------------------------------------------------------------------ jobs and stages
    def job_started(self, e: JobStart) -> None:
        """Work out the job's charge and remember it for its stages."""
        charge = self._charge_of(e)
        if not charge:
            return
        if len(self._job_charge) >= MAX_JOBS:
            self._app.over("tenant_jobs")
            return
        self._job_charge[e.job_id] = (charge, e.stage_ids)
        session = next((t for t in charge if t.kind is TenantKind.SESSION), None)
        for stage_id in e.stage_ids:
            self._stage_charge.setdefault(stage_id, charge)
            if session is not None and len(self._connect_stages) < MAX_JOBS:
                self._connect_stages.setdefault(stage_id, f"{_CONNECT_OPERATION} (session {session.id})")
        for tenant in charge:
            tenant.jobs += 1

    def job_ended(self, e: JobEnd) -> None:
        """The job's charge is no longer needed for new tasks."""
        found = self._job_charge.pop(e.job_id, None)
        if found is None:
            return
        charge, stage_ids = found
        for stage_id in stage_ids:
            if self._stage_charge.get(stage_id) is charge:
                del self._stage_charge[stage_id]
                self._connect_stages.pop(stage_id, None)
        for tenant in charge:
            tenant.jobs -= 1

    def scrub_stage(self, e: _StageEvent) -> _StageEvent:
        """The stage as reported: on a Connect server, no name or RDD callsite is the request's plan.

        Spark names a stage, and the RDDs made while the job runs, after the job's
        ``callSite.short``, which Spark Connect sets to ``Spark Connect - <the request's plan>``: a
        statement text that may hold literals, kept out of reports like the job's callsite. They
        read ``Spark Connect operation (session <id>)`` instead (the session unknown once its job ended).
        """
        if not self.connect:
            return e
        label = self._connect_stages.get(e.stage_id, _CONNECT_OPERATION)
        name = label if e.name.startswith(_CONNECT_CALLSITE) else e.name
        rdds = tuple(
            replace(r, callsite=label) if r.callsite.startswith(_CONNECT_CALLSITE) else r for r in e.rdds
        )
        if name is e.name and all(a is b for a, b in zip(rdds, e.rdds, strict=True)):
            return e
        return replace(e, name=name, rdds=rdds)

    def stage_submitted(self, e: StageSubmitted) -> None:
        """An RDD belongs to the charge of the job whose stage persisted it first."""
        charge = self._stage_charge.get(e.stage_id, _EMPTY)
        owners = self._rdd_owner
        for rdd in e.rdds:
            if (rdd.use_memory or rdd.use_disk) and rdd.rdd_id not in owners:
                if len(owners) >= self._app.limits.max_rdds:
                    self._app.over("tenant_rdds")
                    return
                owners[rdd.rdd_id] = charge

    # ------------------------------------------------------------------ tasks and busy cores
    def task_started(self, task_id: int, exec_id: str, stage_id: int) -> None:
        """A tracked attempt started (after the executor ledger integrated up to its launch)."""
        charge = self._stage_charge.get(stage_id, _EMPTY)
        if not charge:
            return
        counts = self._running.get(exec_id)
        if counts is None:
            counts = self._running[exec_id] = {}
        counts[charge] = counts.get(charge, 0) + 1
        self._task_charge[task_id] = (exec_id, charge)
        for tenant in charge:
            tenant.running += 1

    def task_released(self, task_id: int) -> None:
        """A tracked attempt stopped running (after the executor ledger integrated up to its end)."""
        found = self._task_charge.pop(task_id, None)
        if found is None:
            return
        exec_id, charge = found
        counts = self._running[exec_id]
        left = counts[charge] - 1
        if left:
            counts[charge] = left
        else:
            del counts[charge]
            if not counts:
                del self._running[exec_id]
        for tenant in charge:
            tenant.running -= 1

    def split_busy(self, ex: Executor, core_ms: int) -> None:
        """Charge ``core_ms`` the executor ledger just integrated on ``ex`` to its running tasks."""
        counts = self._running.get(ex.exec_id)
        if counts is None:
            return
        for charge, share in _apportion(counts, ex.running, core_ms):
            for tenant in charge:
                tenant.busy_core_ms += share

    def task_ended(
        self, e: TaskEnd, running: RunningTask | None, ex: Executor | None, est_rebuilt: bool
    ) -> None:
        """Charge an ended (non-resubmitted) attempt's time, and a rebuild's run time, to its job."""
        if running is not None:
            found = self._task_charge.get(e.task_id)
            charge = found[1] if found is not None else _EMPTY
        else:
            charge = self._stage_charge.get(e.stage_id, _EMPTY)
        if not charge:
            return
        span = max(0, e.finish - e.launch)
        rebuilt = running is not None and running.rebuilds > 0
        untracked = 0
        if running is None and ex is not None:
            # As the executor ledger counts an attempt whose start it never saw.
            lo = max(e.launch, ex.added_ms)
            hi = e.finish if ex.removed_ms is None else min(e.finish, ex.removed_ms)
            untracked = max(0, hi - lo) * self._app.task_cpus
        for tenant in charge:
            tenant.task_ms += span
            tenant.busy_core_ms += untracked
            if rebuilt:
                tenant.recompute_ms += e.run_ms
            if est_rebuilt:
                tenant.est_recompute_ms += e.run_ms

    # ------------------------------------------------------------------ cache
    def cache_lost(self, rdd_id: int, nbytes: int) -> None:
        """An executor removal lost ``nbytes`` of ``rdd_id`` (its last copies): the owner's loss."""
        for tenant in self._rdd_owner.get(rdd_id, _EMPTY):
            tenant.lost_bytes += nbytes

    # ------------------------------------------------------------------ reading
    def reports(self, until: int, totals: TenantTotals) -> tuple[TenantReport, ...]:
        """Every tenant's figures measured to ``until``, with ``other`` and ``none`` rows per kind."""
        extra_busy = self._open_busy(until)
        cached: dict[Tenant, int] = {}
        rdds = self._app.storage.rdd_table
        for rdd_id, charge in self._rdd_owner.items():
            r = rdds.get(rdd_id)
            if charge and r is not None and (r.mem_bytes or r.disk_bytes):
                for tenant in charge:
                    cached[tenant] = cached.get(tenant, 0) + r.mem_bytes + r.disk_bytes

        def figures(t: Tenant) -> list[int]:
            recompute = t.est_recompute_ms if totals.estimated else t.recompute_ms
            return [t.task_ms, t.busy_core_ms + extra_busy.get(t, 0), t.lost_bytes, recompute, cached.get(t, 0)]

        out: list[TenantReport] = []
        app_figures = [totals.task_ms, totals.busy_core_ms, totals.lost_bytes, totals.recompute_ms,
                       totals.cached_bytes]
        for kind in TenantKind:
            members = list(self._by_kind[kind].values())
            other = self._other.get(kind)
            if other is not None:
                members.append(other)
            if not members:
                continue
            rows = [(t, figures(t)) for t in members]
            if kind is TenantKind.TAG:
                covered = figures(self._tagged)  # tags overlap: what had at least one tag, once
            else:
                covered = [sum(f[i] for _, f in rows) for i in range(len(app_figures))]
            rest = [max(0, a - c) for a, c in zip(app_figures, covered, strict=True)]
            rows.sort(key=lambda row: (row[0] is other, -row[1][1], -row[1][0], row[0].id))
            for t, f in rows:
                out.append(_report(kind, t.id, t.user, f, t.start_ms, t.end_ms))
            if any(rest):
                out.append(_report(kind, NONE, "", rest, None, None))
        return tuple(out)

    def _open_busy(self, until: int) -> dict[Tenant, int]:
        """Busy core-ms of the running tasks' open stretch up to ``until`` (as ExecutorLedger.busy_core_ms)."""
        out: dict[Tenant, int] = {}
        ledger = self._app.executors
        cpus = self._app.task_cpus
        for exec_id, counts in self._running.items():
            ex = ledger.get(exec_id)
            if not counts or ex is None or not ex.running:
                continue
            end = min(until, ledger.end_of(ex, until))
            if end <= ex.busy_mark:
                continue
            core_ms = min(ex.running * cpus, ex.cores) * (end - ex.busy_mark)
            for charge, share in _apportion(counts, ex.running, core_ms):
                for tenant in charge:
                    out[tenant] = out.get(tenant, 0) + share
        return out


def _apportion(counts: dict[Charge, int], running: int, total: int) -> list[tuple[Charge, int]]:
    """Split ``total`` among the charges by their share of ``running`` attempts, exactly.

    Attempts beyond the charged ones are uncharged: their share goes nowhere (it is the ``none``
    rows). The integer remainder goes to the largest remainders, the earliest charge on a tie.
    """
    charged = sum(counts.values())
    n = max(running, charged)
    if n == charged and len(counts) == 1:
        (charge,) = counts
        return [(charge, total)]
    charges = list(counts)
    shares: list[int] = []
    remainders: list[int] = []
    for count in counts.values():
        share, rem = divmod(total * count, n)
        shares.append(share)
        remainders.append(rem)
    uncharged_share, uncharged_rem = divmod(total * (n - charged), n)
    left = total - sum(shares) - uncharged_share
    if left:  # fewer core-ms than charges: to the largest remainders, the earliest first on a tie
        order = sorted(range(len(shares) + 1), key=lambda i: (-(remainders + [uncharged_rem])[i], i))
        for i in order[:left]:
            if i < len(shares):
                shares[i] += 1
    return list(zip(charges, shares, strict=True))


def _report(
    kind: TenantKind, tenant_id: str, user: str, f: list[int],
    start_ms: int | None, end_ms: int | None,
) -> TenantReport:
    task_ms, busy_ms, lost, recompute_ms, cached = f
    return TenantReport(
        kind=kind,
        id=tenant_id,
        user=user,
        task_seconds=task_ms / 1000,
        busy_core_seconds=busy_ms / 1000,
        cache_lost_bytes=lost,
        recompute_seconds=recompute_ms / 1000,
        cached_bytes=cached,
        start_ms=start_ms,
        end_ms=end_ms,
    )
