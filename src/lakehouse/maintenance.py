"""Table maintenance: compaction (OPTIMIZE) and VACUUM for every table, safe beside a run.

Both are ordinary Delta transactions. OPTIMIZE only rewrites files (no data change); if it
races a daily run on the same files, one of the two gets a conflict and retries, and both
recompute from committed data. VACUUM deletes only files unreferenced for longer than the
retention, far longer than any run, so it never removes a file a running job reads.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from delta.tables import DeltaTable
from pyspark.sql import SparkSession

from lakehouse import concurrency, storage
from lakehouse.errors import UsageError
from lakehouse.tables import TableSpec, all_specs

log = logging.getLogger(__name__)

# Delta's own safety floor: a shorter retention could delete files a running query reads.
MIN_RETAIN_HOURS = 168


@dataclass(frozen=True)
class TableMaintenance:
    table: str
    files_removed: int  # small files compacted away
    files_added: int  # compacted files written
    version: int  # the table's version after maintenance
    seconds: float


def _optimize(spark: SparkSession, path: str) -> tuple[int, int]:
    row = DeltaTable.forPath(spark, path).optimize().executeCompaction().first()
    metrics = row["metrics"] if row is not None else None
    if metrics is None:
        return 0, 0
    return int(metrics["numFilesRemoved"] or 0), int(metrics["numFilesAdded"] or 0)


def maintain_table(
    spark: SparkSession, spec: TableSpec, warehouse: str, *, retain_hours: int, vacuum: bool
) -> TableMaintenance | None:
    path = spec.path(warehouse)
    if storage.latest_version(spark, path) < 0:
        return None  # not created yet: nothing to maintain
    started = time.monotonic()
    removed, added = concurrency.retry_on_conflict(
        f"compaction of {spec.qualified_name}", lambda: _optimize(spark, path)
    )
    if vacuum:
        DeltaTable.forPath(spark, path).vacuum(float(retain_hours))
    result = TableMaintenance(
        spec.qualified_name,
        removed,
        added,
        storage.latest_version(spark, path),
        time.monotonic() - started,
    )
    log.info(
        "maintenance %s: %d small file(s) compacted into %d, now at version %d (%.1fs)",
        result.table,
        removed,
        added,
        result.version,
        result.seconds,
    )
    return result


def maintain(
    spark: SparkSession,
    warehouse: str,
    *,
    retain_hours: int = MIN_RETAIN_HOURS,
    vacuum: bool = True,
) -> list[TableMaintenance]:
    """Compact, then vacuum, every table of the warehouse (the run log included)."""
    if retain_hours < MIN_RETAIN_HOURS:
        raise UsageError(
            f"VACUUM retention {retain_hours} h is under {MIN_RETAIN_HOURS} h: files a running "
            "job still reads could be deleted"
        )
    done = []
    for spec in all_specs():
        result = maintain_table(spark, spec, warehouse, retain_hours=retain_hours, vacuum=vacuum)
        if result is not None:
            done.append(result)
    return done
