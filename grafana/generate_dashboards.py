"""Write grafana/dashboards/*.json: the sparkprobe Grafana dashboards, from this one description.

    python grafana/generate_dashboards.py          # rewrite the JSON files
    python grafana/generate_dashboards.py --check  # exit 1 if a JSON file differs from this script

The JSON files are what users provision (grafana/provisioning/); this script is how they are kept
consistent (same variables, same datasource reference, a unit on every panel, the same app
selector everywhere). tests/test_grafana_rules.py fails when the two disagree: edit the script,
then run it. Stdlib only.

Conventions, explained in docs/grafana.md:
- every query filters ``app_name=~"$app_name", app_id=~"$app_id"`` where the metric has them;
- one app's figure is ``max by (app_id, app_name, ...)`` over its copies (agent, Pushgateway),
  then summed across apps;
- rates come from the recording rules of grafana/alerts/sparkprobe-rules.yaml (5-minute windows);
  "per 5 min" panels multiply those rates by 300.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
from typing import Any

OUT = pathlib.Path(__file__).resolve().parent / "dashboards"
DS = {"type": "prometheus", "uid": "${datasource}"}
SEL = 'app_name=~"$app_name", app_id=~"$app_id"'
APP = "app_id, app_name"
LEGEND_APP = "{{app_name}} ({{app_id}})"


def per_app(metric: str, extra: str = "") -> str:
    """One series per app (plus ``extra`` labels): the largest copy of the app's figure."""
    by = f"{APP}, {extra}" if extra else APP
    return f"max by ({by}) ({metric}{{{SEL}}})"


def total(metric: str, by: str = "", extra: str = "") -> str:
    """Sum over the selected apps (optionally by a label) of :func:`per_app`."""
    group = f" by ({by})" if by else ""
    return f"sum{group} ({per_app(metric, extra or by)})"


class Dashboard:
    """Builds one dashboard's JSON, laying panels out left to right in rows of 24 columns."""

    def __init__(self, uid: str, title: str, description: str) -> None:
        self.uid = uid
        self.title = title
        self.description = description
        self.panels: list[dict[str, Any]] = []
        self._x = 0
        self._y = 0
        self._row_h = 0

    def _place(self, w: int, h: int) -> dict[str, int]:
        if self._x + w > 24:
            self._x = 0
            self._y += self._row_h
            self._row_h = 0
        pos = {"h": h, "w": w, "x": self._x, "y": self._y}
        self._x += w
        self._row_h = max(self._row_h, h)
        return pos

    def panel(
        self,
        kind: str,
        title: str,
        description: str,
        unit: str,
        targets: list[tuple[str, str]],
        *,
        w: int = 12,
        h: int = 8,
        instant: bool = False,
        stack: bool = False,
        decimals: int | None = None,
        thresholds: list[tuple[float | None, str]] | None = None,
        maximum: float | None = None,
        table_rename: dict[str, str] | None = None,
    ) -> None:
        """Add a panel; ``targets`` are (PromQL, legend) pairs."""
        steps = [{"color": color, "value": value} for value, color in (thresholds or [(None, "green")])]
        defaults: dict[str, Any] = {
            "unit": unit,
            "thresholds": {"mode": "absolute", "steps": steps},
            "color": {"mode": "palette-classic" if kind == "timeseries" else "thresholds"},
        }
        if decimals is not None:
            defaults["decimals"] = decimals
        if maximum is not None:
            defaults["min"] = 0
            defaults["max"] = maximum
        if kind == "timeseries":
            defaults["custom"] = {
                "drawStyle": "line",
                "lineWidth": 1,
                "fillOpacity": 20 if stack else 0,
                "showPoints": "never",
                "spanNulls": False,
                "stacking": {"mode": "normal" if stack else "none", "group": "A"},
                "thresholdsStyle": {"mode": "dashed" if thresholds and len(thresholds) > 1 else "off"},
            }
        options: dict[str, Any]
        if kind == "timeseries":
            options = {
                "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                "tooltip": {"mode": "multi", "sort": "desc"},
            }
        elif kind == "stat":
            options = {
                "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                "colorMode": "value",
                "graphMode": "none",
                "justifyMode": "auto",
                "textMode": "auto",
                "orientation": "auto",
            }
        elif kind == "bargauge":
            options = {
                "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                "displayMode": "basic",
                "orientation": "horizontal",
                "showUnfilled": True,
            }
        elif kind == "table":
            options = {"showHeader": True, "cellHeight": "sm", "footer": {"show": False}}
        else:
            raise ValueError(kind)
        refs = "ABCDEFGH"
        panel: dict[str, Any] = {
            "id": len(self.panels) + 1,
            "type": kind,
            "title": title,
            "description": description,
            "datasource": DS,
            "gridPos": self._place(w, h),
            "fieldConfig": {"defaults": defaults, "overrides": []},
            "options": options,
            "targets": [
                {
                    "datasource": DS,
                    "refId": refs[i],
                    "expr": expr,
                    "legendFormat": legend,
                    "range": not instant,
                    "instant": instant,
                    **({"format": "table"} if kind == "table" else {}),
                }
                for i, (expr, legend) in enumerate(targets)
            ],
        }
        if kind == "table":
            panel["transformations"] = [
                {
                    "id": "organize",
                    "options": {"excludeByName": {"Time": True}, "renameByName": table_rename or {}},
                }
            ]
        self.panels.append(panel)

    def json(self) -> dict[str, Any]:
        """Return the dashboard model Grafana provisions."""
        app_query = "label_values(sparkprobe_app_info, app_name)"
        id_query = 'label_values(sparkprobe_app_info{app_name=~"$app_name"}, app_id)'

        def app_var(name: str, label: str, query: str) -> dict[str, Any]:
            return {
                "name": name,
                "label": label,
                "type": "query",
                "datasource": DS,
                "definition": query,
                "query": {"query": query, "refId": "StandardVariableQuery"},
                "refresh": 2,
                "regex": "",
                "sort": 1,
                "multi": True,
                "includeAll": True,
                "allValue": ".*",
                "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
                "hide": 0,
                "options": [],
            }

        return {
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": ["sparkprobe", "spark"],
            "editable": True,
            "graphTooltip": 1,
            "schemaVersion": 39,
            "version": 1,
            "time": {"from": "now-1h", "to": "now"},
            "timepicker": {},
            "timezone": "",
            "refresh": "30s",
            "fiscalYearStartMonth": 0,
            "liveNow": False,
            "annotations": {
                "list": [
                    {
                        "builtIn": 1,
                        "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                        "enable": True,
                        "hide": True,
                        "iconColor": "rgba(0, 211, 255, 1)",
                        "name": "Annotations & Alerts",
                        "type": "dashboard",
                    }
                ]
            },
            "links": [
                {
                    "title": "sparkprobe dashboards",
                    "type": "dashboards",
                    "tags": ["sparkprobe"],
                    "asDropdown": True,
                    "includeVars": True,
                    "keepTime": True,
                    "icon": "external link",
                    "targetBlank": False,
                    "tooltip": "",
                    "url": "",
                }
            ],
            "templating": {
                "list": [
                    {
                        "name": "datasource",
                        "label": "Data source",
                        "type": "datasource",
                        "query": "prometheus",
                        "regex": "",
                        "refresh": 1,
                        "multi": False,
                        "includeAll": False,
                        "current": {},
                        "hide": 0,
                        "options": [],
                    },
                    app_var("app_name", "Application", app_query),
                    app_var("app_id", "Application id", id_query),
                ]
            },
            "panels": self.panels,
        }


def overview() -> Dashboard:
    """Build the overview: applications, executors, cores, idle share and causes, findings."""
    d = Dashboard(
        "sparkprobe-overview",
        "sparkprobe / Overview",
        "Spark applications profiled by sparkprobe: executors, cores, idle cores and why, findings.",
    )
    d.panel("stat", "Running applications", "Applications whose ApplicationEnd has not been seen.",
            "short", [(total("sparkprobe_app_running"), "")], w=4, h=4, instant=True)
    d.panel("stat", "Executors active", "Executors added and not removed, all selected apps.",
            "short", [(total("sparkprobe_executors_active"), "")], w=4, h=4, instant=True)
    d.panel("stat", "Executors idle now", "Active executors with no running task.",
            "short", [(total("sparkprobe_executors_idle"), "")], w=4, h=4, instant=True)
    d.panel("stat", "Cores allocated", "Cores of the active executors.",
            "short", [(total("sparkprobe_cores_allocated"), "")], w=4, h=4, instant=True)
    d.panel("stat", "Idle core share (5m)",
            "Share of the allocated core time of the selected apps that ran no task, last 5 minutes.",
            "percentunit",
            [(f"sum(app:sparkprobe_idle_cores:rate5m{{{SEL}}})"
              f" / sum(app:sparkprobe_allocated_cores:rate5m{{{SEL}}})", "")],
            w=4, h=4, instant=True, decimals=1, maximum=1,
            thresholds=[(None, "green"), (0.3, "orange"), (0.5, "red")])
    d.panel("stat", "Incomplete applications",
            "Apps whose figures miss events (listener drops, or closed by the agent's timeout).",
            "short", [(total("sparkprobe_app_incomplete"), "")], w=4, h=4, instant=True,
            thresholds=[(None, "green"), (1, "red")])

    d.panel("timeseries", "Executors: active and idle",
            "Per app: executors active, and those with no running task.", "short",
            [(per_app("sparkprobe_executors_active"), f"{LEGEND_APP} active"),
             (per_app("sparkprobe_executors_idle"), f"{LEGEND_APP} idle")], decimals=0)
    d.panel("timeseries", "Cores allocated", "Per app: cores of the active executors.", "short",
            [(per_app("sparkprobe_cores_allocated"), LEGEND_APP)], decimals=0, stack=True)
    d.panel("timeseries", "Idle core share", (
        "Per app: idle core-seconds / allocated core-seconds over 5 minutes "
        "(recording rule app:sparkprobe_idle_core_share:ratio_rate5m). The dashed line is the "
        "SparkprobeIdleExecutorWaste threshold (its own window is 30 minutes)."),
            "percentunit", [(f"app:sparkprobe_idle_core_share:ratio_rate5m{{{SEL}}}", LEGEND_APP)],
            maximum=1, thresholds=[(None, "green"), (0.5, "red")])
    d.panel("timeseries", "Idle executors by cause", (
        "Executor-seconds with no task running, per second (= idle executors on average over 5 "
        "minutes), by the cause the analyzer attributed: cache_held, shuffle_held, min_executors, "
        "driver_busy, unneeded. See docs/figures.md."),
            "short",
            [(f"sum by (cause) (app_cause:sparkprobe_executor_idle_seconds:rate5m{{{SEL}}})", "{{cause}}")],
            stack=True, decimals=2)
    d.panel("timeseries", "Findings (per 5 min)", "New findings in each 5-minute window, by kind.",
            "short",
            [(f"sum by (kind) (max by ({APP}, kind) "
              f"(increase(sparkprobe_findings_total{{{SEL}}}[5m])))", "{{kind}}")],
            stack=True, decimals=0)
    d.panel("bargauge", "Findings by kind (total)", "Findings made so far, by kind.", "short",
            [(total("sparkprobe_findings_total", by="kind"), "{{kind}}")], instant=True, decimals=0)
    d.panel("timeseries", "Executors removed by reason (per 5 min)",
            "Executor removals in each 5-minute window, by classified cause.", "short",
            [(f"sum by (reason) (max by ({APP}, reason) "
              f"(increase(sparkprobe_executors_removed_total{{{SEL}}}[5m])))", "{{reason}}")],
            stack=True, decimals=0)
    d.panel("table", "Applications", "Applications seen (running = 1 while the app runs).", "short",
            [(f"max by ({APP}, spark_version, user) (sparkprobe_app_info{{{SEL}}}) "
              f"* on ({APP}) group_left() max by ({APP}) (sparkprobe_app_running{{{SEL}}})", "")],
            instant=True, table_rename={"Value": "running"})
    return d


def cache() -> Dashboard:
    """Build the cache dashboard: cached data, losses, replicas, migration, recomputation."""
    d = Dashboard(
        "sparkprobe-cache",
        "sparkprobe / Cached data",
        "Cached RDD blocks: what is cached, what was lost with removed executors and why, and what "
        "rebuilding it cost.",
    )
    d.panel("stat", "Cached bytes", "Bytes of cached RDD blocks (all replicas, memory and disk).",
            "bytes", [(total("sparkprobe_cached_bytes", extra="storage"), "")], w=4, h=4, instant=True)
    d.panel("stat", "Cached blocks", "Distinct cached RDD blocks.", "short",
            [(total("sparkprobe_cached_blocks"), "")], w=4, h=4, instant=True)
    d.panel("stat", "Blocks lost",
            "Cached blocks lost with their last replica (all reasons, since app start).", "short",
            [(total("sparkprobe_cache_lost_blocks_total", extra="reason"), "")], w=4, h=4, instant=True,
            thresholds=[(None, "green"), (1, "red")])
    d.panel("stat", "Bytes lost", "Bytes of the cached blocks lost with their last replica.", "bytes",
            [(total("sparkprobe_cache_lost_bytes_total", extra="reason"), "")], w=4, h=4, instant=True,
            thresholds=[(None, "green"), (1, "red")])
    d.panel("stat", "Blocks recomputed", "Lost blocks cached again (rebuilt from lineage).", "short",
            [(total("sparkprobe_cache_recomputed_blocks_total"), "")], w=4, h=4, instant=True)
    d.panel("stat", "Recompute time", "Executor run time of the tasks that rebuilt lost blocks.", "s",
            [(total("sparkprobe_cache_recompute_seconds_total"), "")], w=4, h=4, instant=True)

    d.panel("timeseries", "Cached bytes by storage", "Cached bytes of the selected apps, memory and disk.",
            "bytes", [(total("sparkprobe_cached_bytes", by="storage"), "{{storage}}")], stack=True)
    d.panel("timeseries", "Cached blocks", "Per app: distinct cached blocks.", "short",
            [(per_app("sparkprobe_cached_blocks"), LEGEND_APP)], decimals=0)
    d.panel("timeseries", "Blocks lost by reason (per 5 min)", (
        "Cached blocks lost with their last replica, by why the executor went away "
        "(recording rule app_reason:sparkprobe_cache_lost_blocks:rate5m x 300)."),
            "short",
            [(f"sum by (reason) (app_reason:sparkprobe_cache_lost_blocks:rate5m{{{SEL}}}) * 300",
              "{{reason}}")],
            stack=True, decimals=0)
    d.panel("timeseries", "Bytes lost by reason (per 5 min)",
            "Bytes of the blocks lost (recording rule app_reason:sparkprobe_cache_lost_bytes:rate5m x 300).",
            "bytes",
            [(f"sum by (reason) (app_reason:sparkprobe_cache_lost_bytes:rate5m{{{SEL}}}) * 300",
              "{{reason}}")],
            stack=True)
    d.panel("timeseries", "Replicas lost, blocks migrated, blocks recomputed (per 5 min)", (
        "Replicas lost while another copy survived; blocks that survived a decommission by "
        "migration; lost blocks cached again."),
            "short",
            [(f"sum(max by ({APP}) (increase(sparkprobe_cache_replicas_lost_total{{{SEL}}}[5m])))",
              "replicas lost"),
             (f"sum(max by ({APP}) (increase(sparkprobe_cache_migrated_blocks_total{{{SEL}}}[5m])))",
              "blocks migrated"),
             (f"sum(app:sparkprobe_cache_recomputed_blocks:rate5m{{{SEL}}}) * 300", "blocks recomputed")],
            decimals=0)
    d.panel("timeseries", "Recompute time (per 5 min)", (
        "Per app: executor time spent rebuilding lost blocks in each 5-minute window "
        "(recording rule app:sparkprobe_cache_recompute_seconds:rate5m x 300)."),
            "s", [(f"app:sparkprobe_cache_recompute_seconds:rate5m{{{SEL}}} * 300", LEGEND_APP)])
    d.panel("bargauge", "Blocks lost by reason (total)", "Cached blocks lost since app start, by reason.",
            "short", [(total("sparkprobe_cache_lost_blocks_total", by="reason"), "{{reason}}")],
            instant=True, decimals=0)
    d.panel("bargauge", "Bytes lost by reason (total)", "Bytes lost since app start, by reason.", "bytes",
            [(total("sparkprobe_cache_lost_bytes_total", by="reason"), "{{reason}}")], instant=True)
    return d


def health() -> Dashboard:
    """Build the health dashboard: the listener and the agent themselves."""
    d = Dashboard(
        "sparkprobe-health",
        "sparkprobe / Listener and agent health",
        "Is sparkprobe itself working: events in, events dropped by listeners, listener cost on "
        "Spark's listener bus, bad input, rejected connections, pushes to the Pushgateway.",
    )
    d.panel("stat", "Agents up", "sparkprobe agent scrape targets up (job names matching sparkprobe.*).",
            "short", [('sum(up{job=~"sparkprobe.*"})', "")], w=4, h=4, instant=True,
            thresholds=[(None, "red"), (1, "green")])
    d.panel("stat", "Applications held",
            "Applications the agents hold (running, and ended within retention).", "short",
            [("sum(sparkprobe_agent_apps)", "")], w=4, h=4, instant=True)
    d.panel("stat", "Open connections", "Listener connections open now.", "short",
            [("sum(sparkprobe_agent_connections_open)", "")], w=4, h=4, instant=True)
    d.panel("stat", "Events dropped",
            "Events the listeners of the selected apps dropped (queue full or send failed).", "short",
            [(total("sparkprobe_listener_events_dropped_total"), "")], w=4, h=4, instant=True,
            thresholds=[(None, "green"), (1, "red")])
    d.panel("stat", "Listener time per event (5m)",
            "Mean time the listener spent on Spark's listener bus per event, selected apps, last 5 minutes.",
            "s", [(f"max(app:sparkprobe_listener_processing_seconds:mean5m{{{SEL}}})", "")],
            w=4, h=4, instant=True)
    d.panel("stat", "Apps refused (cap)",
            "Applications refused because the agent tracked --max-apps already.", "short",
            [("sum(sparkprobe_agent_apps_over_limit_total)", "")], w=4, h=4, instant=True,
            thresholds=[(None, "green"), (1, "red")])

    d.panel("timeseries", "Events received",
            "Per app: events the agent received from the listener, per second.", "cps",
            [(f"app:sparkprobe_events_received:rate5m{{{SEL}}}", LEGEND_APP)])
    d.panel("timeseries", "Listener drops", (
        "Per app: events the listener dropped per second (its queue, spark.sparkprobe.queueCapacity, "
        "was full, or the agent unreachable)."),
            "cps", [(f"app:sparkprobe_listener_events_dropped:rate5m{{{SEL}}}", LEGEND_APP)])
    d.panel("timeseries", "Listener processing time per event", (
        "Per app: time spent in the listener's on* methods on Spark's listener bus per event offered "
        "(sparkprobe_listener_processing_seconds sum / count over 5 minutes)."),
            "s", [(f"app:sparkprobe_listener_processing_seconds:mean5m{{{SEL}}}", LEGEND_APP)])
    d.panel("timeseries", "Bad lines by reason", "Lines the agents could not use, per second, by reason.",
            "cps",
            [("sum by (reason) (rate(sparkprobe_agent_bad_lines_total[$__rate_interval]))", "{{reason}}")])
    d.panel("timeseries", "Rejected connections by reason",
            "Listener connections refused at the hello, per second, by reason.", "cps",
            [("sum by (reason) (rate(sparkprobe_agent_connections_rejected_total[$__rate_interval]))",
              "{{reason}}")])
    d.panel("timeseries", "Open connections and applications held", "Per agent.", "short",
            [("sum by (instance) (sparkprobe_agent_connections_open)", "{{instance}} connections"),
             ("sum by (instance) (sparkprobe_agent_apps)", "{{instance}} apps")], decimals=0)
    d.panel("timeseries", "Pushgateway pushes by result (per 5 min)",
            "Finished apps pushed to the Pushgateway (agents started with a Pushgateway only).", "short",
            [("sum by (result) (increase(sparkprobe_pushgateway_pushes_total[5m]))", "{{result}}")],
            decimals=0)
    d.panel("timeseries", "Scrape cost", "Time each agent spent building the metric families of one scrape.",
            "s", [("max by (instance) (sparkprobe_agent_collect_duration_seconds)", "{{instance}}")])
    d.panel("table", "Last push to the Pushgateway", (
        "Per app: when its final figures were last pushed. Groups stay on the Pushgateway until "
        "replaced or deleted (docs/grafana.md, Pushgateway)."),
            "dateTimeAsIso",
            [(f"max by ({APP}) (sparkprobe_last_push_timestamp_seconds{{{SEL}}}) * 1000", "")],
            w=24, instant=True, table_rename={"Value": "last push"})
    return d


DASHBOARDS = {
    "sparkprobe-overview.json": overview,
    "sparkprobe-cache.json": cache,
    "sparkprobe-health.json": health,
}


def render() -> dict[str, str]:
    """File name → JSON text of every dashboard."""
    return {name: json.dumps(build().json(), indent=2) + "\n" for name, build in DASHBOARDS.items()}


def main(argv: list[str] | None = None) -> int:
    """Write the dashboards (or, with --check, compare them)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="compare instead of writing; exit 1 on a difference"
    )
    args = parser.parse_args(argv)
    stale = []
    for name, text in render().items():
        path = OUT / name
        if args.check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
    if stale:
        print(f"out of date (run python grafana/generate_dashboards.py): {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
