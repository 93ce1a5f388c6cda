"""`make bench`: the daily job over N generated days, measured from inside one run.

Prints per day the wall time, rows landed, rows per second and, from Delta's operation
metrics, the files and bytes each layer added and removed and the target rows each MERGE
copied; then the flatness (last day / day 2), a full rebuild of gold from all of bronze
(incremental last day / rebuild), and the same days through a plain DuckDB SQL reference
(Spark / DuckDB, with a row-for-row comparison of the gold tables). Ratios only: absolute
times on a shared machine mean little. All figures go to a JSON file.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "scripts"), str(ROOT)]

import generate_data  # noqa: E402
from pyspark.sql import DataFrame, SparkSession  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402

from lakehouse import gold, silver  # noqa: E402
from lakehouse.config import Settings  # noqa: E402
from lakehouse.run import run_date  # noqa: E402
from lakehouse.session import build_session  # noqa: E402
from lakehouse.tables import (  # noqa: E402
    APP_EVENTS,
    CRM,
    CUSTOMER_TIMELINE,
    DIM_CUSTOMER_CURRENT,
    FACT_APP_EVENTS_DAILY,
    FACT_ORDER_CURRENT,
    FACT_TICKET_CURRENT,
    FACT_TICKET_EVENTS_DAILY,
    GOLD_TABLES,
    ORDER_TIMELINE,
    ORDERS,
    TICKETS,
    bronze_spec,
    table_path,
)

START = date(2025, 1, 1)
BENCH_CONF = {
    "spark.sql.shuffle.partitions": "4",
    "spark.sql.adaptive.enabled": "true",
    "spark.sql.autoBroadcastJoinThreshold": str(64 * 1024 * 1024),
    "spark.ui.enabled": "false",
    "spark.databricks.delta.snapshotPartitions": "2",
    "spark.driver.memory": "8g",
    "spark.driver.extraJavaOptions": (
        f"-XX:+UseParallelGC -Dlog4j2.configurationFile=file:{ROOT / 'conf' / 'log4j2.properties'}"
    ),
}


@dataclass
class LayerFigures:
    commits: int = 0
    files_added: int = 0
    files_removed: int = 0
    bytes_added: int = 0
    bytes_removed: int = 0
    rows_copied: int = 0  # target rows a MERGE rewrote unchanged


@dataclass
class DayFigures:
    day: str
    seconds: float
    rows_landed: int
    rows_per_second: float
    layers: dict[str, LayerFigures] = field(default_factory=dict)
    merges: list[dict[str, object]] = field(default_factory=list)


def _metric(m: dict[str, str], *names: str) -> int:
    for name in names:
        if m.get(name) not in (None, ""):
            return int(m[name])
    return 0


def _commits(table_dir: Path, after: int, upto: int) -> list[dict[str, object]]:
    """The commitInfo of versions (after, upto], read from the table's own commit files.

    The benchmark's warehouse is on local disk, so this reads a few small JSON files instead
    of starting a Spark job per table (`history()`), which would add to the benchmark's wall
    time without being part of the run it measures."""
    out = []
    for version in range(after + 1, upto + 1):
        commit_file = table_dir / "_delta_log" / f"{version:020d}.json"
        for line in commit_file.read_text().splitlines():
            action = json.loads(line)
            if "commitInfo" in action:
                out.append({"version": version, **action["commitInfo"]})
    return out


def commit_figures(warehouse: str, entries: list) -> DayFigures:  # type: ignore[type-arg]
    """Sum Delta's operation metrics of every commit the run made, per layer."""
    layers: dict[str, LayerFigures] = defaultdict(LayerFigures)
    merges: list[dict[str, object]] = []
    seen: set[tuple[str, int]] = set()
    for entry in entries:
        for name, after in (entry.table_versions or {}).items():
            before = (entry.table_versions_before or {}).get(name, -1)
            if after is None or after <= before:
                continue
            layer, table = name.split("/", 1)
            history = _commits(Path(table_path(warehouse, layer, table)), before, after)
            for commit in history:
                if (name, commit["version"]) in seen:
                    continue
                seen.add((name, commit["version"]))
                m: dict[str, str] = commit.get("operationMetrics") or {}  # type: ignore[assignment]
                fig = layers[layer]
                fig.commits += 1
                fig.files_added += _metric(m, "numTargetFilesAdded", "numFiles", "numAddedFiles")
                fig.files_removed += _metric(m, "numTargetFilesRemoved", "numRemovedFiles")
                fig.bytes_added += _metric(
                    m, "numTargetBytesAdded", "numOutputBytes", "numAddedBytes"
                )
                fig.bytes_removed += _metric(m, "numTargetBytesRemoved", "numRemovedBytes")
                if commit["operation"] == "MERGE":
                    copied = _metric(m, "numTargetRowsCopied")
                    fig.rows_copied += copied
                    merges.append(
                        {
                            "table": name,
                            "rows_copied": copied,
                            "rows_inserted": _metric(m, "numTargetRowsInserted"),
                            "rows_updated": _metric(m, "numTargetRowsUpdated"),
                            "rows_deleted": _metric(m, "numTargetRowsDeleted"),
                            "files_removed": _metric(m, "numTargetFilesRemoved"),
                            "dv_added": _metric(m, "numTargetDeletionVectorsAdded"),
                        }
                    )
    return DayFigures("", 0.0, 0, 0.0, dict(layers), merges)


def rebuild_gold(spark: SparkSession, warehouse: str, out: str) -> None:
    """Gold from scratch: all of bronze through the same pure transforms, in one batch."""

    def valid(source):  # type: ignore[no-untyped-def]
        bronze = spark.read.format("delta").load(bronze_spec(source).path(warehouse))
        return bronze.transform(silver.with_reason(source)).transform(silver.typed(source))

    def winners(source):  # type: ignore[no-untyped-def]
        return valid(source).transform(silver.one_per_key(source))

    def timeline(spec):  # type: ignore[no-untyped-def]
        changes = valid(spec.source).transform(silver.one_per_change(spec.source))
        return changes.transform(gold.timeline(spec))

    def save(frame: DataFrame, spec) -> None:  # type: ignore[no-untyped-def]
        writer = frame.write.format("delta").mode("overwrite")
        if spec.partition_by:
            writer = writer.partitionBy(*spec.partition_by)
        writer.save(spec.path(out))

    customers = gold.customer_rows(winners(CRM))
    save(customers.where(~F.col("is_deleted")).drop("is_deleted"), DIM_CUSTOMER_CURRENT)
    save(gold.order_rows(winners(ORDERS)), FACT_ORDER_CURRENT)
    save(winners(APP_EVENTS).transform(gold.daily_counts("event_type")), FACT_APP_EVENTS_DAILY)
    tickets = winners(TICKETS)
    save(gold.ticket_rows(tickets), FACT_TICKET_CURRENT)
    save(tickets.transform(gold.daily_counts("status")), FACT_TICKET_EVENTS_DAILY)
    for spec in (CUSTOMER_TIMELINE, ORDER_TIMELINE):
        save(timeline(spec), spec.spec)


def differing_rows(spark: SparkSession, left: str, right: str) -> dict[str, int]:
    out = {}
    for spec in GOLD_TABLES:
        a = spark.read.format("delta").load(spec.path(left))
        b = spark.read.format("delta").load(spec.path(right)).select(*a.columns)
        out[spec.name] = a.exceptAll(b).count() + b.exceptAll(a).count()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=0.1, help="1.0 = 1M app events a day")
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--work", type=Path, default=ROOT / ".bench")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-duckdb", action="store_true")
    args = parser.parse_args(argv)
    if args.days < 2 or args.scale <= 0:
        print("run_bench.py: error: --days must be at least 2, --scale positive", file=sys.stderr)
        return 2
    days = [START + timedelta(days=i) for i in range(args.days)]
    # The job's own step lines (duration and counts per source and layer): where time goes.
    logging.basicConfig(level=logging.WARNING, format="    %(message)s")
    logging.getLogger("lakehouse.run").setLevel(logging.INFO)
    landing = args.work / f"landing-scale{args.scale:g}-days{args.days}-seed{args.seed}"
    if not (landing / "_GENERATED").exists():
        shutil.rmtree(landing, ignore_errors=True)
        t0 = time.monotonic()
        rows = generate_data.generate(landing, START, args.days, scale=args.scale, seed=args.seed)
        (landing / "_GENERATED").write_text(json.dumps(rows))
        print(f"generated {sum(rows.values()):,} rows in {time.monotonic() - t0:.0f}s: {landing}")
    warehouse = str(args.work / "warehouse")
    rebuilt = str(args.work / "rebuilt")
    for path in (warehouse, rebuilt):
        shutil.rmtree(path, ignore_errors=True)

    t0 = time.monotonic()
    spark = build_session("lakehouse-bench", BENCH_CONF, master="local[2]")
    spark.range(1).collect()
    startup = time.monotonic() - t0
    settings = Settings(landing=str(landing), warehouse=warehouse)
    figures: list[DayFigures] = []
    print(f"Spark session started in {startup:.1f}s")
    header = f"{'day':<12}{'seconds':>9}{'rows':>12}{'rows/s':>10}"
    print(f"{header}  per layer: +files/-files +MB/-MB (MERGE rows copied)")
    for day in days:
        t0 = time.monotonic()
        result = run_date(spark, settings, day)
        seconds = time.monotonic() - t0
        fig = commit_figures(warehouse, list(result.entries.values()))
        fig.day, fig.seconds = day.isoformat(), seconds
        fig.rows_landed = sum(e.rows_landed or 0 for e in result.entries.values())
        fig.rows_per_second = fig.rows_landed / seconds
        figures.append(fig)
        per_layer = "  ".join(
            f"{layer} +{f.files_added}/-{f.files_removed} "
            f"+{f.bytes_added / 1e6:.1f}/-{f.bytes_removed / 1e6:.1f}MB ({f.rows_copied})"
            for layer, f in sorted(fig.layers.items())
        )
        line = f"{fig.day:<12}{seconds:>9.1f}{fig.rows_landed:>12,}{fig.rows_per_second:>10,.0f}"
        print(f"{line}  {per_layer}")

    t0 = time.monotonic()
    rebuild_gold(spark, warehouse, rebuilt)
    rebuild_s = time.monotonic() - t0
    rebuild_diff = differing_rows(spark, warehouse, rebuilt)

    report: dict[str, object] = {
        "scale": args.scale,
        "days": args.days,
        "spark_startup_s": startup,
        "per_day": [asdict(f) for f in figures],
        "rebuild_s": rebuild_s,
        "rebuild_differing_rows": rebuild_diff,
        "flat_ratio_last_to_day2": figures[-1].seconds / figures[1].seconds,
        "incremental_ratio_last_to_rebuild": figures[-1].seconds / rebuild_s,
    }
    if not args.no_duckdb:
        from bench import duckdb_reference

        gold_dir = args.work / "spark_gold"
        shutil.rmtree(gold_dir, ignore_errors=True)
        for spec in GOLD_TABLES:
            spark.read.format("delta").load(spec.path(warehouse)).write.parquet(
                str(gold_dir / spec.name)
            )
        db = args.work / "reference.duckdb"
        db.unlink(missing_ok=True)
        con = duckdb_reference.connect(db)
        duck_days = []
        for day in days:
            t0 = time.monotonic()
            duckdb_reference.run_day(con, landing, day)
            duck_days.append(time.monotonic() - t0)
        report["duckdb_per_day_s"] = duck_days
        report["duckdb_differing_rows"] = duckdb_reference.compare_gold(con, gold_dir)
        report["spark_to_duckdb_last_day"] = figures[-1].seconds / duck_days[-1]
        report["spark_to_duckdb_all_days"] = sum(f.seconds for f in figures) / sum(duck_days)
        con.close()
    spark.stop()

    out = args.work / f"bench-scale{args.scale:g}-days{args.days}.json"
    out.write_text(json.dumps(report, indent=2, default=str))
    print()
    flat = report["flat_ratio_last_to_day2"]
    print(f"flat:        day {args.days} / day 2 = {flat:.2f} (target <= 1.25)")
    print(
        f"incremental: day {args.days} / full rebuild ({rebuild_s:.1f}s) = "
        f"{report['incremental_ratio_last_to_rebuild']:.2f} (target <= 0.20); "
        f"rebuild equals incremental gold: {not any(rebuild_diff.values())} {rebuild_diff}"
    )
    if "duckdb_per_day_s" in report:
        print(
            f"vs DuckDB:   last day {report['spark_to_duckdb_last_day']:.2f}x, all days "
            f"{report['spark_to_duckdb_all_days']:.2f}x (target <= 3); same gold rows: "
            f"{not any(report['duckdb_differing_rows'].values())} {report['duckdb_differing_rows']}"  # type: ignore[union-attr]
        )
    print(f"Spark session start (fixed cost, not in the per-day times): {startup:.1f}s")
    print(f"figures: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
