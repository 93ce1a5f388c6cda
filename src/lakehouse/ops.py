"""The run log: one row per source per run attempt, appended at the end of the attempt."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date

from pyspark.sql import Row, SparkSession
from pyspark.sql import functions as F

from lakehouse import concurrency, conditions, sql, storage
from lakehouse.errors import NoRunLogError
from lakehouse.sources import Source
from lakehouse.tables import RUN_LOG, TableSpec, recorded_tables
from lakehouse.warehouse import Warehouse

log = logging.getLogger(__name__)

SUCCEEDED = "succeeded"  # silver and gold hold every bronze file of the day counted here
UNCHANGED = "unchanged"  # nothing new since a succeeded attempt: silver and gold skipped
NO_DATA = "no_data"  # nothing for the source on this date, in the landing zone or bronze
REJECTED = "rejected"  # over its quarantine threshold: bronze and quarantine only
FAILED = "failed"
RESTORE = "restore"  # not a run: jobs/restore.py took the tables back (see `undid_runs`)


@contextmanager
def run_log_there(warehouse: Warehouse) -> Iterator[None]:
    """Reads of a run log the daily job did not make itself (a report, a restore): a run log
    that is not there is a usage error naming the warehouse, not a failure with a trace."""
    try:
        yield
    except Exception as exc:
        if conditions.is_missing_table(exc) or conditions.is_missing_path(exc):
            table = RUN_LOG.table(warehouse)
            raise NoRunLogError(".".join(table.name) or str(table.path)) from exc
        raise


def row(values: Mapping[str, object]) -> tuple[object, ...]:
    """A run log row in the table's column order; a column not given is null."""
    unknown = set(values) - set(RUN_LOG.schema.fieldNames())
    if unknown:
        raise ValueError(f"not run log columns: {', '.join(sorted(unknown))}")
    return tuple(values.get(f.name) for f in RUN_LOG.schema.fields)


def append(spark: SparkSession, warehouse: Warehouse, rows: Sequence[Mapping[str, object]]) -> None:
    """One commit for the whole attempt; the table is append-only. A blind append still
    conflicts with a metadata commit in between (maintenance setting the table's retention):
    then nothing was written, and it is appended again."""
    if not rows:
        return
    frame = spark.createDataFrame([row(values) for values in rows], RUN_LOG.schema)
    # mergeSchema: a run log written by an older release gains the newer columns.
    concurrency.retry_on_conflict(
        "the run log",
        lambda: storage.append(frame, RUN_LOG.table(warehouse), merge_schema=True),
    )


def versions_for(source: Source, versions: dict[str, int]) -> dict[str, int]:
    """Of every table's version (by qualified name), those a run log row of `source` records
    (-1: not created)."""
    return {
        spec.qualified_name: versions.get(spec.qualified_name, -1)
        for spec in recorded_tables(source)
    }


def versions_of(
    spark: SparkSession, warehouse: Warehouse, specs: Iterable[TableSpec]
) -> dict[str, int]:
    """Each table's current version by its qualified name, from one listing (-1: not there)."""
    tables = {spec.qualified_name: spec.table(warehouse) for spec in specs}
    versions = storage.latest_versions(spark, list(tables.values()))
    return {name: versions[table] for name, table in tables.items()}


def _both_steps_done(steps: Sequence[str] | None) -> bool:
    """An attempt that ran silver and gold (rows from before `--steps` existed ran all)."""
    return steps is None or ("silver" in steps and "gold" in steps)


def live_rows_of(
    spark: SparkSession, warehouse: Warehouse, day: date, columns: list[str]
) -> list[Row]:
    """The day's attempts that no restore undid, in one scan of the (small) run log and no
    shuffle: every run asks this before its first step, so it must cost one Spark job."""
    log_rows = storage.read(spark, RUN_LOG.table(warehouse))
    # A run log an older release wrote lacks the newer columns until this run appends.
    wanted = [
        F.col(c) if c in log_rows.columns else F.lit(None).alias(c)
        for c in ("run_id", "status", "undid_runs", *columns)
    ]
    rows = (
        log_rows.where((F.col("run_date") == sql.date_value(day)) | (F.col("status") == RESTORE))
        .select(*wanted)
        .collect()
    )
    undone = {u for r in rows if r["status"] == RESTORE for u in (r["undid_runs"] or [])}
    return [r for r in rows if r["status"] != RESTORE and r["run_id"] not in undone]


def processed_file_counts(
    spark: SparkSession, warehouse: Warehouse, day: date
) -> dict[str, set[int]]:
    """For each source, the counts of bronze files whose rows the silver and gold steps of a
    finished attempt of `day` read (rows from before that count was kept have none)."""
    out: dict[str, set[int]] = {}
    for r in live_rows_of(spark, warehouse, day, ["source", "bronze_files_read", "steps"]):
        read = r["bronze_files_read"]
        if (
            read is not None
            and r["status"] in (SUCCEEDED, UNCHANGED)
            and _both_steps_done(r["steps"])
        ):
            out.setdefault(r["source"], set()).add(int(read))
    return out
