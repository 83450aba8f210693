"""The analyzer: events in, an app's figures out (docs/figures.md).

``state.AppState`` applies events (live or from an event log) to its ledgers; ``report.build_report``
turns that state into the typed :class:`~sparkprobe.model.AppReport`. A regular package, not a
namespace one: ``sparkprobe fleet --spark`` ships the package to executors as a zip, and
zipimport finds no namespace packages.
"""
