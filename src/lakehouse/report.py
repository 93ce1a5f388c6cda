"""The daily SLA report: for one ingest date, every landed row accounted for, per source,
and how fresh each gold table is."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from lakehouse import ops, sql, storage
from lakehouse.sources import SOURCES
from lakehouse.tables import (
    EVENT_DATE,
    GOLD_TABLES,
    INGEST_DATE,
    bronze_spec,
    current_spec,
    quarantine_spec,
    silver_spec,
)
from lakehouse.warehouse import Table, Warehouse


def _count(spark: SparkSession, table: Table, column: str, day: date) -> int:
    return storage.read(spark, table).where(F.col(column) == sql.date_value(day)).count()


# The run log's figures the report shows (the last succeeded attempt's that counted them).
_LOGGED = ["duplicates_dropped", "late_rows", "lag_days_max"]


def build(spark: SparkSession, warehouse: Warehouse, day: date) -> dict[str, Any]:
    """Counts read from the tables themselves, plus the latest finished run log entry. An
    attempt a restore undid does not count, as its tables are back where it found them."""
    with ops.run_log_there(warehouse):
        live = ops.live_rows_of(spark, warehouse, day, [*_LOGGED, "source", "started_at", "steps"])
    log_rows = sorted(live, key=lambda r: r["started_at"])
    latest = {r["source"]: r for r in log_rows}
    sources = []
    for source in SOURCES:
        entry = latest.get(source.name)
        counted = next(
            (
                r
                for r in reversed(log_rows)
                if r["source"] == source.name
                and r["status"] == ops.SUCCEEDED
                # A bronze step alone counts nothing (a row without steps ran them all).
                and r["steps"] != ["bronze"]
            ),
            None,
        )
        gold_spec = current_spec(source) if source.current is not None else None
        sources.append(
            {
                "source": source.name,
                "last_status": entry["status"] if entry else None,
                "last_run_id": entry["run_id"] if entry else None,
                "landed": _count(spark, bronze_spec(source).table(warehouse), INGEST_DATE, day),
                "quarantined": _count(
                    spark, quarantine_spec(source).table(warehouse), INGEST_DATE, day
                ),
                "in_silver": _count(spark, silver_spec(source).table(warehouse), INGEST_DATE, day),
                "in_gold": (
                    _count(spark, gold_spec.table(warehouse), "load_date", day)
                    if gold_spec
                    else None
                ),
                "duplicates_dropped": counted["duplicates_dropped"] if counted else None,
                "late": counted["late_rows"] if counted else None,
                "lag_days_max": counted["lag_days_max"] if counted else None,
            }
        )
    freshness = []
    for spec in GOLD_TABLES:
        table = spec.table(warehouse)
        last = storage.last_commit(spark, table)
        frame = storage.read(spark, table)
        column = next(c for c in ("load_date", EVENT_DATE, "valid_from") if c in frame.columns)
        newest = frame.agg(F.max(column)).first()
        freshness.append(
            {
                "table": spec.name,
                "version": last["version"] if last else None,
                "last_commit": last["timestamp"].isoformat(sep=" ") if last else None,
                f"max_{column}": newest[0].isoformat() if newest and newest[0] else None,
            }
        )
    return {"run_date": day.isoformat(), "sources": sources, "gold_freshness": freshness}


def render_text(report: dict[str, Any]) -> str:
    cols = [
        "source",
        "last_status",
        "landed",
        "quarantined",
        "in_silver",
        "in_gold",
        "duplicates_dropped",
        "late",
        "lag_days_max",
    ]
    rows = [[str(s[c]) if s[c] is not None else "-" for c in cols] for s in report["sources"]]
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(cols)]

    def line(values: list[str]) -> str:
        return "  ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)).rstrip()

    lines = [f"SLA report for ingest date {report['run_date']}", ""]
    lines += [line(cols), *(line(r) for r in rows)]
    lines += ["", "gold freshness:"]
    for t in report["gold_freshness"]:
        extra = ", ".join(f"{k}={v}" for k, v in t.items() if k != "table")
        lines.append(f"  {t['table']}: {extra}")
    return "\n".join(lines)


def render_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, sort_keys=True)
