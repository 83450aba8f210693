"""Write grafana/dashboards/*.json: the sparkprobe Grafana dashboards, built with grafana-foundation-sdk.

    python grafana/generate_dashboards.py          # rewrite the JSON files
    python grafana/generate_dashboards.py --check  # exit 1 if a JSON file differs from this script

The JSON files are what users provision (grafana/provisioning/); they are this script's output,
built with Grafana's typed builders (``grafana-foundation-sdk``, generated from Grafana's own
schema, for Grafana 11.6), so every field has the name and type Grafana's schema gives it.
tests/test_grafana_rules.py regenerates them and compares byte for byte: edit this script, then
run it. The SDK is a build-time tool, in the ``test`` extra of pyproject.toml.

Conventions, explained in docs/grafana.md ("How the queries count"):
- every query filters ``app_name=~"$app_name", app_id=~"$app_id"`` where the metric has them;
- one figure per app from all its copies (agents, Pushgateway, several scrape jobs): ``max by
  (app_id, app_name, ...)`` of gauges and of counters the listener or the clock drives, and of
  counters' totals; the increase of an event counter is taken per agent (``instance``) and summed
  over agents, because each agent counts only the events it received;
- rates come from the recording rules of grafana/alerts/sparkprobe-rules.yaml (5-minute windows);
  "per 5 min" panels multiply those rates by 300.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
from typing import TypeVar

try:
    from grafana_foundation_sdk.builders import bargauge, prometheus, stat, table, timeseries
    from grafana_foundation_sdk.builders import common as common_builders
    from grafana_foundation_sdk.builders import dashboard as dashboard_builders
    from grafana_foundation_sdk.cog.encoder import JSONEncoder
    from grafana_foundation_sdk.models import common
    from grafana_foundation_sdk.models import dashboard as model
    from grafana_foundation_sdk.models.prometheus import PromQueryFormat
except ModuleNotFoundError as exc:  # a checkout without the test extra
    raise SystemExit(f"{exc}: this script needs the test extra (pip install -e '.[test]')") from exc

OUT = pathlib.Path(__file__).resolve().parent / "dashboards"
DS = model.DataSourceRef(type_val="prometheus", uid="${datasource}")
SEL = 'app_name=~"$app_name", app_id=~"$app_id"'
APP = "app_id, app_name"
LEGEND_APP = "{{app_name}} ({{app_id}})"
GRID_COLUMNS = 24

Threshold = tuple[float | None, str]
AnyPanel = TypeVar("AnyPanel", timeseries.Panel, stat.Panel, table.Panel, bargauge.Panel)


# ---------------------------------------------------------------------------- PromQL
def _by(*labels: str) -> str:
    return ", ".join(label for label in labels if label)


def per_app(metric: str, extra: str = "") -> str:
    """One series per app (plus ``extra`` labels): the largest of the app's copies.

    For gauges, and for counters' totals (a newer copy of a counter knows at least as much).
    """
    return f"max by ({_by(APP, extra)}) ({metric}{{{SEL}}})"


def total(metric: str, by: str = "", extra: str = "") -> str:
    """Sum over the selected apps (optionally by a label) of :func:`per_app`."""
    group = f" by ({by})" if by else ""
    return f"sum{group} ({per_app(metric, extra or by)})"


def event_increase(metric: str, by: str = "", window: str = "5m") -> str:
    """Events counted in each window, summed over apps (optionally by a label).

    Each agent counts the events it received, so the increase is taken per series (``increase``
    handles a counter that restarts), the copies of one agent (same ``instance``, several scrape
    jobs) are merged with ``max``, and the agents are summed.
    """
    group = f" by ({by})" if by else ""
    return f"sum{group} (max by ({_by(APP, by, 'instance')}) (increase({metric}{{{SEL}}}[{window}])))"


def agents(expr: str, by: str = "") -> str:
    """An agent-level figure summed over agents; several scrape jobs of one agent count once."""
    group = f" by ({by})" if by else ""
    return f"sum{group} (max by ({_by('instance', by)}) ({expr}))"


#: The tenant kinds the "who uses the executors" panel shows, in order: per app, the first it has.
#: Sessions, job groups and pools partition an app's work; tags overlap, so they come last.
TENANT_KINDS = ("session", "job_group", "pool", "tag")


def tenant_selection(metric: str, rate: str = "") -> str:
    """``metric`` for each app's first kind of :data:`TENANT_KINDS` (``rate``: a range to take rates over).

    ``or on (app_id, app_name)`` keeps a later kind's series only for apps with none of the earlier.
    """
    def one(kind: str) -> str:
        series = f'{metric}{{{SEL}, kind="{kind}"}}'
        return f"rate({series}[{rate}])" if rate else series

    return " or on (app_id, app_name) ".join(one(kind) for kind in TENANT_KINDS)


def who_uses_the_executors() -> str:
    """Busy cores per tenant: a clock counter, so the rate of each copy, then the largest copy."""
    return f"max by ({APP}, kind, tenant) ({tenant_selection('sparkprobe_tenant_busy_core_seconds_total', '5m')})"


# ---------------------------------------------------------------------------- layout and panels
class Layout:
    """Places panels left to right in lines of 24 columns, under full-width rows."""

    def __init__(self) -> None:
        self._x = 0
        self._y = 0
        self._line_h = 0

    def _new_line(self) -> None:
        self._x = 0
        self._y += self._line_h
        self._line_h = 0

    def row(self) -> model.GridPos:
        """The position of a row header: a line of its own."""
        if self._x:
            self._new_line()
        pos = model.GridPos(h=1, w=GRID_COLUMNS, x=0, y=self._y)
        self._y += 1
        return pos

    def place(self, w: int, h: int) -> model.GridPos:
        """The next free position for a panel ``w`` columns wide and ``h`` high."""
        if self._x + w > GRID_COLUMNS:
            self._new_line()
        pos = model.GridPos(h=h, w=w, x=self._x, y=self._y)
        self._x += w
        self._line_h = max(self._line_h, h)
        return pos


def _thresholds(steps: list[Threshold]) -> dashboard_builders.ThresholdsConfig:
    return (
        dashboard_builders.ThresholdsConfig()
        .mode(model.ThresholdsMode.ABSOLUTE)
        .steps([model.Threshold(value=value, color=color) for value, color in steps])
    )


def _query(expr: str, legend: str, ref_id: str, *, instant: bool, as_table: bool) -> prometheus.Dataquery:
    query = prometheus.Dataquery().expr(expr).legend_format(legend).ref_id(ref_id).datasource(DS)
    query = query.instant() if instant else query.range()
    return query.format(PromQueryFormat.TABLE) if as_table else query


def _reduce_last() -> common_builders.ReduceDataOptions:
    return common_builders.ReduceDataOptions().calcs(["lastNotNull"]).fields("").values(False)


class Board:
    """One dashboard: the SDK's builder plus the layout, panel ids and house conventions."""

    def __init__(self, uid: str, title: str, description: str) -> None:
        self.layout = Layout()
        self._next_id = 1
        self.builder = (
            dashboard_builders.Dashboard(title)
            .uid(uid)
            .description(description)
            .tags(["sparkprobe", "spark"])
            .editable()
            .tooltip(model.DashboardCursorSync.CROSSHAIR)
            .time("now-1h", "now")
            .timezone("")
            .refresh("30s")
            .version(1)
            .annotation(
                dashboard_builders.AnnotationQuery()
                .name("Annotations & Alerts")
                .datasource(model.DataSourceRef(type_val="grafana", uid="-- Grafana --"))
                .enable(True)
                .hide(True)
                .icon_color("rgba(0, 211, 255, 1)")
                .type("dashboard")
                .built_in(1)
            )
            .link(
                dashboard_builders.DashboardLink("sparkprobe dashboards")
                .type(model.DashboardLinkType.DASHBOARDS)
                .tags(["sparkprobe"])
                .as_dropdown(True)
                .include_vars(True)
                .keep_time(True)
                .icon("external link")
            )
            .with_variable(dashboard_builders.DatasourceVariable("datasource").label("Data source").type("prometheus"))
            .with_variable(self._app_variable("app_name", "Application", "label_values(sparkprobe_app_info, app_name)"))
            .with_variable(
                self._app_variable(
                    "app_id", "Application id", 'label_values(sparkprobe_app_info{app_name=~"$app_name"}, app_id)'
                )
            )
        )

    @staticmethod
    def _app_variable(name: str, label: str, query: str) -> dashboard_builders.QueryVariable:
        return (
            dashboard_builders.QueryVariable(name)
            .label(label)
            .datasource(DS)
            .query(query)
            .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
            .sort(model.VariableSort.ALPHABETICAL_ASC)
            .multi(True)
            .include_all(True)
            .all_value(".*")
            .current(model.VariableOption(selected=True, text=["All"], value=["$__all"]))
        )

    def _id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

    def row(self, title: str) -> None:
        """Start a row (expanded: its panels follow it at the top level, as Grafana expects)."""
        self.builder.with_row(dashboard_builders.Row(title).id(self._id()).grid_pos(self.layout.row()))

    def _finish(
        self,
        panel: AnyPanel,
        title: str,
        description: str,
        unit: str,
        targets: list[tuple[str, str]],
        *,
        w: int,
        h: int,
        instant: bool,
        decimals: int | None = None,
        thresholds: list[Threshold] | None = None,
        maximum: float | None = None,
        as_table: bool = False,
    ) -> AnyPanel:
        panel = (
            panel.id(self._id())
            .title(title)
            .description(description)
            .datasource(DS)
            .grid_pos(self.layout.place(w, h))
            .unit(unit)
            .thresholds(_thresholds(thresholds or [(None, "green")]))
            .targets(
                [
                    _query(expr, legend, "ABCDEFGH"[i], instant=instant, as_table=as_table)
                    for i, (expr, legend) in enumerate(targets)
                ]
            )
        )
        if decimals is not None:
            panel = panel.decimals(decimals)
        if maximum is not None:
            panel = panel.min(0).max(maximum)
        return panel

    def timeseries(
        self,
        title: str,
        description: str,
        unit: str,
        targets: list[tuple[str, str]],
        *,
        stack: bool = False,
        decimals: int | None = None,
        thresholds: list[Threshold] | None = None,
        maximum: float | None = None,
        w: int = 12,
        h: int = 8,
    ) -> None:
        """A time series panel; ``targets`` are (PromQL, legend) pairs."""
        panel = (
            timeseries.Panel()
            .color_scheme(dashboard_builders.FieldColor().mode(model.FieldColorModeId.PALETTE_CLASSIC))
            .draw_style(common.GraphDrawStyle.LINE)
            .line_width(1)
            .fill_opacity(20 if stack else 0)
            .show_points(common.VisibilityMode.NEVER)
            .span_nulls(False)
            .stacking(
                common_builders.StackingConfig()
                .mode(common.StackingMode.NORMAL if stack else common.StackingMode.NONE)
                .group("A")
            )
            .thresholds_style(
                common_builders.GraphThresholdsStyleConfig().mode(
                    common.GraphThresholdsStyleMode.DASHED
                    if thresholds and len(thresholds) > 1
                    else common.GraphThresholdsStyleMode.OFF
                )
            )
            .legend(
                common_builders.VizLegendOptions()
                .display_mode(common.LegendDisplayMode.LIST)
                .placement(common.LegendPlacement.BOTTOM)
                .show_legend(True)
            )
            .tooltip(
                common_builders.VizTooltipOptions().mode(common.TooltipDisplayMode.MULTI).sort(common.SortOrder.DESCENDING)
            )
        )
        self.builder.with_panel(
            self._finish(
                panel, title, description, unit, targets, w=w, h=h, instant=False,
                decimals=decimals, thresholds=thresholds, maximum=maximum,
            )
        )

    def stat(
        self,
        title: str,
        description: str,
        unit: str,
        expr: str,
        *,
        decimals: int | None = None,
        thresholds: list[Threshold] | None = None,
        maximum: float | None = None,
        w: int = 4,
        h: int = 4,
    ) -> None:
        """A single-value panel of one instant query."""
        panel = (
            stat.Panel()
            .color_scheme(dashboard_builders.FieldColor().mode(model.FieldColorModeId.THRESHOLDS))
            .reduce_options(_reduce_last())
            .color_mode(common.BigValueColorMode.VALUE)
            .graph_mode(common.BigValueGraphMode.NONE)
            .justify_mode(common.BigValueJustifyMode.AUTO)
            .text_mode(common.BigValueTextMode.AUTO)
            .orientation(common.VizOrientation.AUTO)
        )
        self.builder.with_panel(
            self._finish(
                panel, title, description, unit, [(expr, "")], w=w, h=h, instant=True,
                decimals=decimals, thresholds=thresholds, maximum=maximum,
            )
        )

    def bargauge(
        self, title: str, description: str, unit: str, expr: str, legend: str, *, decimals: int | None = None
    ) -> None:
        """Horizontal bars, one per series of an instant query."""
        panel = (
            bargauge.Panel()
            .color_scheme(dashboard_builders.FieldColor().mode(model.FieldColorModeId.THRESHOLDS))
            .reduce_options(_reduce_last())
            .display_mode(common.BarGaugeDisplayMode.BASIC)
            .orientation(common.VizOrientation.HORIZONTAL)
            .show_unfilled(True)
        )
        self.builder.with_panel(
            self._finish(panel, title, description, unit, [(expr, legend)], w=12, h=8, instant=True, decimals=decimals)
        )

    def table(self, title: str, description: str, unit: str, expr: str, value_column: str, *, w: int = 24) -> None:
        """A table of one instant query: a row per series, its labels as columns, the value renamed."""
        panel = (
            table.Panel()
            .color_scheme(dashboard_builders.FieldColor().mode(model.FieldColorModeId.THRESHOLDS))
            .show_header(True)
            .cell_height(common.TableCellHeight.SM)
            .footer(common_builders.TableFooterOptions().show(False))
            .align(common.FieldTextAlignment.AUTO)
            .inspect(False)
            .with_transformation(
                model.DataTransformerConfig(
                    id_val="organize",
                    options={"excludeByName": {"Time": True}, "renameByName": {"Value": value_column}},
                )
            )
        )
        self.builder.with_panel(
            self._finish(panel, title, description, unit, [(expr, "")], w=w, h=8, instant=True, as_table=True)
        )

    def json(self) -> str:
        """The dashboard model as Grafana provisions it (keys sorted, so diffs stay small)."""
        return json.dumps(self.builder.build(), cls=JSONEncoder, indent=2, sort_keys=True) + "\n"


# ---------------------------------------------------------------------------- the dashboards
def overview() -> Board:
    """Build the overview: applications, executors, cores, idle share and causes, findings."""
    d = Board(
        "sparkprobe-overview",
        "sparkprobe / Overview",
        "Spark applications profiled by sparkprobe: executors, cores, idle cores and why, findings.",
    )
    d.row("Now")
    d.stat("Running applications", "Applications whose ApplicationEnd has not been seen.", "short",
           total("sparkprobe_app_running"))
    d.stat("Executors active", "Executors added and not removed, all selected apps.", "short",
           total("sparkprobe_executors_active"))
    d.stat("Executors idle now", "Active executors with no running task.", "short",
           total("sparkprobe_executors_idle"))
    d.stat("Cores allocated", "Cores of the active executors.", "short", total("sparkprobe_cores_allocated"))
    d.stat("Idle core share (5m)",
           "Share of the allocated core time of the selected apps that ran no task, last 5 minutes.",
           "percentunit",
           f"sum(app:sparkprobe_idle_cores:rate5m{{{SEL}}}) / sum(app:sparkprobe_allocated_cores:rate5m{{{SEL}}})",
           decimals=1, maximum=1, thresholds=[(None, "green"), (0.3, "orange"), (0.5, "red")])
    d.stat("Incomplete applications",
           "Apps whose figures miss events (listener drops, or closed by the agent's timeout).", "short",
           total("sparkprobe_app_incomplete"), thresholds=[(None, "green"), (1, "red")])

    d.row("Executors and cores")
    d.timeseries("Executors: active and idle", "Per app: executors active, and those with no running task.",
                 "short",
                 [(per_app("sparkprobe_executors_active"), f"{LEGEND_APP} active"),
                  (per_app("sparkprobe_executors_idle"), f"{LEGEND_APP} idle")], decimals=0)
    d.timeseries("Cores allocated", "Per app: cores of the active executors.", "short",
                 [(per_app("sparkprobe_cores_allocated"), LEGEND_APP)], decimals=0, stack=True)
    d.timeseries("Idle core share", (
        "Per app: idle core-seconds / allocated core-seconds over 5 minutes "
        "(recording rule app:sparkprobe_idle_core_share:ratio_rate5m). The dashed line is the "
        "SparkprobeIdleExecutorWaste threshold (its own window is 30 minutes)."),
                 "percentunit", [(f"app:sparkprobe_idle_core_share:ratio_rate5m{{{SEL}}}", LEGEND_APP)],
                 maximum=1, thresholds=[(None, "green"), (0.5, "red")])
    d.timeseries("Idle executors by cause", (
        "Executor-seconds with no task running, per second (= idle executors on average over 5 "
        "minutes), by the cause the analyzer attributed: cache_held, shuffle_held, min_executors, "
        "driver_busy, unneeded. See docs/figures.md."),
                 "short",
                 [(f"sum by (cause) (app_cause:sparkprobe_executor_idle_seconds:rate5m{{{SEL}}})", "{{cause}}")],
                 stack=True, decimals=2)

    d.row("Tenants")
    d.timeseries("Who uses the executors", (
        "Busy cores (busy core-seconds per second, over 5 minutes) by tenant: per app, its Spark Connect "
        "sessions; for an app without sessions its job groups, else its pools, else its job tags (tags "
        "overlap: a job with two tags counts for both). 'other' is the fold past --max-tenants, 'none' the "
        "work with no tenant of that kind. A clock counter: rate per copy, then the largest copy. "
        "See docs/tenants.md."),
                 "short", [(who_uses_the_executors(), "{{tenant}} ({{kind}}, {{app_name}})")], stack=True, decimals=2)
    d.table("Tenants since app start", (
        "Per tenant of the selected apps: busy core-seconds since the app started (the largest copy); "
        "the kinds are those of the panel beside it. See docs/tenants.md."),
            "s", f"max by ({APP}, kind, tenant) ({tenant_selection('sparkprobe_tenant_busy_core_seconds_total')})",
            "busy core-seconds", w=12)

    d.row("Findings and executor removals")
    # Findings stay max-per-app: idle findings are made by the clock, so an agent still holding a
    # moved app's old copy can make the same finding as the agent that has the app now.
    d.timeseries("Findings (per 5 min)", "New findings in each 5-minute window, by kind.", "short",
                 [(f"sum by (kind) (max by ({APP}, kind) (increase(sparkprobe_findings_total{{{SEL}}}[5m])))",
                   "{{kind}}")],
                 stack=True, decimals=0)
    d.bargauge("Findings by kind (total)", "Findings made so far, by kind.", "short",
               total("sparkprobe_findings_total", by="kind"), "{{kind}}", decimals=0)
    d.timeseries("Executors removed by reason (per 5 min)",
                 "Executor removals in each 5-minute window, by classified cause.", "short",
                 [(event_increase("sparkprobe_executors_removed_total", by="reason"), "{{reason}}")],
                 stack=True, decimals=0)

    memory_row(d)

    d.row("Applications")
    d.table("Applications", "Applications seen (running = 1 while the app runs).", "short",
            f"max by ({APP}, spark_version, user) (sparkprobe_app_info{{{SEL}}}) "
            f"* on ({APP}) group_left() max by ({APP}) (sparkprobe_app_running{{{SEL}}})",
            "running")
    return d


def memory_row(d: Board) -> None:
    """The overview's memory row: requested vs peak per area, idle memory by cause, cost."""
    given = f'sparkprobe_memory_requested_bytes{{{SEL}, area="container"}}'
    d.row("Memory")
    d.stat("Executor memory given", "Containers of the active executors (what the cluster manager reserves).",
           "bytes", f"sum (max by ({APP}) ({given}))")
    d.stat("Unused while busy (5m)", (
        "Share of the memory held by executors running tasks that they did not use (container minus "
        "peak footprint), last 5 minutes; apps whose executors reported their memory only."),
           "percentunit",
           f"sum(app:sparkprobe_unused_memory:rate5m{{{SEL}}}) / (sum(app:sparkprobe_allocated_memory:rate5m{{{SEL}}})"
           f" - sum(app_cause:sparkprobe_idle_memory:rate5m{{{SEL}}}))",
           decimals=1, maximum=1, thresholds=[(None, "green"), (0.5, "orange")])
    d.stat("Executors lost to memory", "Executors removed for memory in the time range (all selected apps).",
           "short",
           f'sum (max by ({APP}, instance) (increase(sparkprobe_executors_removed_total{{{SEL}, reason="memory"}}'
           '[$__range])))',
           thresholds=[(None, "green"), (1, "red")])
    d.stat("Cost (range)",
           "Cost of the selected apps' executors in the time range, at the prices given (none: no value).",
           "short", f"sum(max by ({APP}, resource) (increase(sparkprobe_cost_total{{{SEL}}}[$__range])))", decimals=2)
    d.stat("Wasted cost (range)",
           "Cost of idle cores and memory, and of what busy executors did not use, in the time range.",
           "short", f"sum(max by ({APP}, cause) (increase(sparkprobe_wasted_cost_total{{{SEL}}}[$__range])))",
           decimals=2, thresholds=[(None, "green"), (1, "orange")])
    d.stat("Driver memory given", "Heap (and, in cluster mode, overhead) of the selected apps' drivers.", "bytes",
           f'sum (max by ({APP}) (sparkprobe_driver_memory_requested_bytes{{{SEL}, area="container"}}))')
    d.timeseries("Per executor: memory given vs peak", (
        "Per app: the container of one executor (given, summed over the active ones / their count) "
        "against the largest peak of its executors by area: jvm_heap, process_rss (the JVM's resident "
        "memory, with spark.executor.processTreeMetrics.enabled), python_rss (its Python workers). "
        "An area never measured has no line. See docs/figures.md, Memory."),
                 "bytes",
                 [(f"max by ({APP}) ({given}) / on ({APP}) (max by ({APP}) (sparkprobe_executors_active{{{SEL}}}) > 0)",
                   f"{LEGEND_APP} given"),
                  (f"max by ({APP}, area) "
                   f'(sparkprobe_memory_peak_bytes{{{SEL}, area=~"jvm_heap|process_rss|python_rss"}})',
                   f"{LEGEND_APP} {{{{area}}}} peak")])
    d.timeseries("Executor memory requested by area", (
        "Memory of the active executors of the selected apps by area: heap, overhead, off-heap, "
        "PySpark (stacked: their sum is the containers on YARN and Kubernetes)."),
                 "bytes",
                 [(f"sum by (area) (max by ({APP}, area) "
                   f'(sparkprobe_memory_requested_bytes{{{SEL}, area!="container"}}))',
                   "{{area}}")], stack=True)
    d.timeseries("Idle memory by cause", (
        "Memory of executors running no task, on average over 5 minutes, by the idle cause of the core "
        "ledger (cache_held, shuffle_held, min_executors, driver_busy, unneeded), and the memory busy "
        "executors held but did not use."),
                 "bytes",
                 [(f"sum by (cause) (app_cause:sparkprobe_idle_memory:rate5m{{{SEL}}})", "{{cause}}"),
                  (f"sum(app:sparkprobe_unused_memory:rate5m{{{SEL}}})", "unused while busy")], stack=True)
    d.timeseries("Cost per hour", (
        "Cost of the selected apps per hour, at the prices given to the agent (--price-core-hour, "
        "--price-gib-hour) or set by the app (spark.sparkprobe.price.*): total and wasted by cause. "
        "Empty without prices."),
                 "short",
                 [(f"sum(app:sparkprobe_cost:rate5m{{{SEL}}}) * 3600", "cost"),
                  (f"sum by (cause) (app_cause:sparkprobe_wasted_cost:rate5m{{{SEL}}}) * 3600", "wasted: {{cause}}")],
                 decimals=2)


def cache() -> Board:
    """Build the cache dashboard: cached data, losses, replicas, migration, recomputation."""
    d = Board(
        "sparkprobe-cache",
        "sparkprobe / Cached data",
        "Cached RDD blocks: what is cached, what was lost with removed executors and why, and what "
        "rebuilding it cost.",
    )
    d.row("Now and since app start")
    d.stat("Cached bytes", "Bytes of cached RDD blocks (all replicas, memory and disk).", "bytes",
           total("sparkprobe_cached_bytes", extra="storage"))
    d.stat("Cached blocks", "Distinct cached RDD blocks.", "short", total("sparkprobe_cached_blocks"))
    d.stat("Blocks lost", "Cached blocks lost with their last replica (all reasons, since app start).", "short",
           total("sparkprobe_cache_lost_blocks_total", extra="reason"), thresholds=[(None, "green"), (1, "red")])
    d.stat("Bytes lost", "Bytes of the cached blocks lost with their last replica.", "bytes",
           total("sparkprobe_cache_lost_bytes_total", extra="reason"), thresholds=[(None, "green"), (1, "red")])
    d.stat("Blocks recomputed", "Lost blocks cached again (rebuilt from lineage).", "short",
           total("sparkprobe_cache_recomputed_blocks_total"))
    d.stat("Recompute time", "Executor run time of the tasks that rebuilt lost blocks.", "s",
           total("sparkprobe_cache_recompute_seconds_total"))

    d.row("Cached data")
    d.timeseries("Cached bytes by storage", "Cached bytes of the selected apps, memory and disk.", "bytes",
                 [(total("sparkprobe_cached_bytes", by="storage"), "{{storage}}")], stack=True)
    d.timeseries("Cached blocks", "Per app: distinct cached blocks.", "short",
                 [(per_app("sparkprobe_cached_blocks"), LEGEND_APP)], decimals=0)

    d.row("Losses and recomputation")
    d.timeseries("Blocks lost by reason (per 5 min)", (
        "Cached blocks lost with their last replica, by why the executor went away "
        "(recording rule app_reason:sparkprobe_cache_lost_blocks:rate5m x 300)."),
                 "short",
                 [(f"sum by (reason) (app_reason:sparkprobe_cache_lost_blocks:rate5m{{{SEL}}}) * 300", "{{reason}}")],
                 stack=True, decimals=0)
    d.timeseries("Bytes lost by reason (per 5 min)",
                 "Bytes of the blocks lost (recording rule app_reason:sparkprobe_cache_lost_bytes:rate5m x 300).",
                 "bytes",
                 [(f"sum by (reason) (app_reason:sparkprobe_cache_lost_bytes:rate5m{{{SEL}}}) * 300", "{{reason}}")],
                 stack=True)
    d.timeseries("Replicas lost, blocks migrated, blocks recomputed (per 5 min)", (
        "Replicas lost while another copy survived; blocks that survived a decommission by "
        "migration; lost blocks cached again."),
                 "short",
                 [(event_increase("sparkprobe_cache_replicas_lost_total"), "replicas lost"),
                  (event_increase("sparkprobe_cache_migrated_blocks_total"), "blocks migrated"),
                  (f"sum(app:sparkprobe_cache_recomputed_blocks:rate5m{{{SEL}}}) * 300", "blocks recomputed")],
                 decimals=0)
    d.timeseries("Recompute time (per 5 min)", (
        "Per app: executor time spent rebuilding lost blocks in each 5-minute window "
        "(recording rule app:sparkprobe_cache_recompute_seconds:rate5m x 300)."),
                 "s", [(f"app:sparkprobe_cache_recompute_seconds:rate5m{{{SEL}}} * 300", LEGEND_APP)])

    d.row("Losses since app start")
    d.bargauge("Blocks lost by reason (total)", "Cached blocks lost since app start, by reason.", "short",
               total("sparkprobe_cache_lost_blocks_total", by="reason"), "{{reason}}", decimals=0)
    d.bargauge("Bytes lost by reason (total)", "Bytes lost since app start, by reason.", "bytes",
               total("sparkprobe_cache_lost_bytes_total", by="reason"), "{{reason}}")
    return d


def health() -> Board:
    """Build the health dashboard: the listener and the agents themselves."""
    d = Board(
        "sparkprobe-health",
        "sparkprobe / Listener and agent health",
        "Is sparkprobe itself working: events in, events dropped by listeners, listener cost on "
        "Spark's listener bus, bad input, rejected connections, pushes to the Pushgateway.",
    )
    d.row("Now")
    d.stat("Agents up", "sparkprobe agents whose scrape succeeds (job names matching sparkprobe.*).", "short",
           agents('up{job=~"sparkprobe.*"}'), thresholds=[(None, "red"), (1, "green")])
    d.stat("Applications held", (
        "Selected applications the agents hold (running, and ended within retention). An app that two "
        "agents hold while it moves between them counts once."),
           "short", f'count(max by ({APP}) (sparkprobe_app_info{{{SEL}, instance!=""}}))')
    d.stat("Open connections", "Listener connections open now, all agents.", "short",
           agents("sparkprobe_agent_connections_open"))
    d.stat("Events dropped",
           "Events the listeners of the selected apps dropped (queue full or send failed).", "short",
           total("sparkprobe_listener_events_dropped_total"), thresholds=[(None, "green"), (1, "red")])
    d.stat("Listener time per event (5m)",
           "Mean time the listener spent on Spark's listener bus per event, selected apps, last 5 minutes.",
           "s", f"max(app:sparkprobe_listener_processing_seconds:mean5m{{{SEL}}})")
    d.stat("Apps refused (cap)",
           "Applications refused in the time range because an agent tracked --max-apps already.", "short",
           agents("increase(sparkprobe_agent_apps_over_limit_total[$__range])"),
           thresholds=[(None, "green"), (1, "red")])

    d.row("Listeners")
    d.timeseries("Events received", "Per app: events the agents received from the listener, per second.", "cps",
                 [(f"app:sparkprobe_events_received:rate5m{{{SEL}}}", LEGEND_APP)])
    d.timeseries("Listener drops", (
        "Per app: events the listener dropped per second (its queue, spark.sparkprobe.queueCapacity, "
        "was full, or the agent unreachable)."),
                 "cps", [(f"app:sparkprobe_listener_events_dropped:rate5m{{{SEL}}}", LEGEND_APP)])
    d.timeseries("Listener processing time per event", (
        "Per app: time spent in the listener's on* methods on Spark's listener bus per event offered "
        "(sparkprobe_listener_processing_seconds sum / count over 5 minutes)."),
                 "s", [(f"app:sparkprobe_listener_processing_seconds:mean5m{{{SEL}}}", LEGEND_APP)])

    d.row("Agents")
    d.timeseries("Bad lines by reason", "Lines the agents could not use, per second, by reason.", "cps",
                 [(agents("rate(sparkprobe_agent_bad_lines_total[$__rate_interval])", by="reason"), "{{reason}}")])
    d.timeseries("Rejected connections by reason",
                 "Listener connections refused at the hello, per second, by reason.", "cps",
                 [(agents("rate(sparkprobe_agent_connections_rejected_total[$__rate_interval])", by="reason"),
                   "{{reason}}")])
    d.timeseries("Open connections and applications held", "Per agent.", "short",
                 [("max by (instance) (sparkprobe_agent_connections_open)", "{{instance}} connections"),
                  ("max by (instance) (sparkprobe_agent_apps)", "{{instance}} apps")], decimals=0)
    d.timeseries("Pushgateway pushes by result (per 5 min)",
                 "Finished apps pushed to the Pushgateway (agents started with a Pushgateway only).", "short",
                 [(agents("increase(sparkprobe_pushgateway_pushes_total[5m])", by="result"), "{{result}}")],
                 decimals=0)
    d.timeseries("Scrape cost", "Time each agent spent building the metric families of one scrape.", "s",
                 [("max by (instance) (sparkprobe_agent_collect_duration_seconds)", "{{instance}}")])

    d.row("Pushgateway")
    d.table("Last push to the Pushgateway", (
        "Per app: when its final figures were last pushed. Groups stay on the Pushgateway until "
        "replaced or deleted (docs/grafana.md, Pushgateway)."),
            "dateTimeAsIso", f"max by ({APP}) (sparkprobe_last_push_timestamp_seconds{{{SEL}}}) * 1000",
            "last push")
    return d


DASHBOARDS = {
    "sparkprobe-overview.json": overview,
    "sparkprobe-cache.json": cache,
    "sparkprobe-health.json": health,
}


def render() -> dict[str, str]:
    """File name → JSON text of every dashboard."""
    return {name: build().json() for name, build in DASHBOARDS.items()}


def main(argv: list[str] | None = None) -> int:
    """Write the dashboards (or, with --check, compare them)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="compare instead of writing; exit 1 on a difference"
    )
    args = parser.parse_args(argv)
    stale = []
    for name, text in render().items():
        path = OUT / name
        if args.check:
            if not path.is_file() or path.read_bytes() != text.encode("utf-8"):
                stale.append(name)
        else:
            path.write_bytes(text.encode("utf-8"))
    if stale:
        print(f"out of date (run python grafana/generate_dashboards.py): {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
