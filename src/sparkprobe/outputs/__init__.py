"""Exporters: Prometheus collector, structured logs, reports."""
