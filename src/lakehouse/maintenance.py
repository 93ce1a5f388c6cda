"""Table maintenance: compaction (OPTIMIZE) and VACUUM for every table, safe beside a run;
gold brought back within what outside readers support.

The tables a MERGE updates by key (silver of the mutable sources, gold's current states and
histories) are compacted sorted by that key (`TableSpec.zorder_by`), in files of at most
`MAX_FILE_SIZE` (conf/prod.yaml). Every daily MERGE is pruned to the day's key range, so it
then reads, and in gold rewrites, only the files that hold the day's keys: for keys created
in time order (orders) a few recent files, whatever the table's age. Copy on write without
that layout rewrites the whole table every day. All keyed tables are sorted, whatever their
source's updates look like: a sorted table costs maintenance time only, and pays wherever
the day's keys cluster.

All are ordinary Delta transactions. OPTIMIZE only rewrites files (no data change); if it
races a daily run on the same files, one of the two gets a conflict and retries, and both
recompute from committed data. VACUUM deletes only files unreferenced for longer than the
retention, far longer than any run, so it never removes a file a running job reads. The
retention is each table's own property (`storage.set_retention`, a metadata commit when it
changes, which a concurrent daily run retries like any lost commit): Delta ignores a RETAIN
clause, and the same property bounds how far back time travel and a restore may go.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial

from pyspark.sql import SparkSession

from lakehouse import concurrency, storage
from lakehouse.errors import UsageError
from lakehouse.tables import GOLD_FORBIDDEN_FEATURES, GOLD_TABLES, TableSpec, all_specs
from lakehouse.warehouse import Table, Warehouse

log = logging.getLogger(__name__)

# Delta's own safety floor: a shorter retention could delete files a running query reads.
MIN_RETAIN_HOURS = 168
# A hundred years: past it, keeping every file is --no-vacuum (and Delta refuses an interval
# too long for it to hold).
MAX_RETAIN_HOURS = 876_000
# Delta's setting for the size of the files OPTIMIZE writes, in bytes (default 1 GiB).
MAX_FILE_SIZE = "spark.databricks.delta.optimize.maxFileSize"
# Tables maintained at once: most of a small table's maintenance waits on its log and files.
_TABLE_THREADS = 4


def keyed_specs() -> list[TableSpec]:
    """The tables maintenance sorts by their key."""
    return [spec for spec in all_specs() if spec.zorder_by]


@dataclass(frozen=True)
class TableMaintenance:
    table: str
    files_removed: int  # files compacted (or sorted) away
    files_added: int  # files written in their place
    version: int  # the table's version after maintenance
    seconds: float
    features_dropped: tuple[str, ...] = ()


def table_features(spark: SparkSession, table: Table) -> frozenset[str]:
    return frozenset(storage.table_detail(spark, table).get("tableFeatures") or ())


def drop_forbidden_features(spark: SparkSession, spec: TableSpec, table: Table) -> tuple[str, ...]:
    """A gold table written by an earlier release with deletion vectors (or given them by a
    platform default) is unreadable for delta-rs: the feature's data is purged and the feature
    dropped from the protocol. Delta's checkpoint protection makes that one call, with the
    history kept; versions before the drop still carry the feature for time travel."""
    if spec not in GOLD_TABLES:
        return ()
    found = tuple(f for f in GOLD_FORBIDDEN_FEATURES if f in table_features(spark, table))
    for feature in found:
        log.info("maintenance %s: dropping table feature %s", spec.qualified_name, feature)
        concurrency.retry_on_conflict(
            f"dropping {feature} from {spec.qualified_name}",
            partial(storage.drop_feature, spark, table, feature),
        )
    return found


def _optimize(spark: SparkSession, spec: TableSpec, table: Table) -> tuple[int, int]:
    metrics = storage.optimize(spark, table, spec.zorder_by)
    if metrics is None:
        return 0, 0
    return int(metrics["numFilesRemoved"] or 0), int(metrics["numFilesAdded"] or 0)


def maintain_table(
    spark: SparkSession, spec: TableSpec, warehouse: Warehouse, *, retain_hours: int, vacuum: bool
) -> TableMaintenance | None:
    table = spec.table(warehouse)
    if storage.latest_version(spark, table) < 0:
        return None  # not created yet: nothing to maintain
    started = time.monotonic()
    dropped = drop_forbidden_features(spark, spec, table)
    removed, added = concurrency.retry_on_conflict(
        f"compaction of {spec.qualified_name}", lambda: _optimize(spark, spec, table)
    )
    if vacuum:
        concurrency.retry_on_conflict(
            f"the retention of {spec.qualified_name}",
            lambda: storage.set_retention(spark, table, retain_hours),
        )
        # VACUUM commits (its start, its end): a run's metadata commit meanwhile conflicts.
        concurrency.retry_on_conflict(
            f"VACUUM of {spec.qualified_name}", lambda: storage.vacuum(spark, table)
        )
    result = TableMaintenance(
        spec.qualified_name,
        removed,
        added,
        storage.latest_version(spark, table),
        time.monotonic() - started,
        dropped,
    )
    log.info(
        "maintenance %s: %d file(s) rewritten as %d, now at version %d (%.1fs)",
        result.table,
        removed,
        added,
        result.version,
        result.seconds,
    )
    return result


def maintain(
    spark: SparkSession,
    warehouse: Warehouse,
    *,
    retain_hours: int = MIN_RETAIN_HOURS,
    vacuum: bool = True,
    specs: Iterable[TableSpec] | None = None,
) -> list[TableMaintenance]:
    """Compact, then vacuum, every table of the warehouse (the run log included), or `specs`:
    a few tables at a time, as each is a transaction of its own."""
    if retain_hours < MIN_RETAIN_HOURS:
        raise UsageError(
            f"VACUUM retention {retain_hours} h is under {MIN_RETAIN_HOURS} h: files a running "
            "job still reads could be deleted"
        )

    def one(spec: TableSpec) -> TableMaintenance | None:
        return maintain_table(spark, spec, warehouse, retain_hours=retain_hours, vacuum=vacuum)

    results = concurrency.at_once(
        one, all_specs() if specs is None else specs, threads=_TABLE_THREADS
    )
    return [r for r in results if r is not None]
