"""Undo runs: bring every table back to the versions it had before a run, from the run log.

Each run log row holds, per table a source's run writes, the version before the attempt
wrote and the version after. Restoring every table to the "before" versions of a run gives
the warehouse exactly as that run found it (every later run is undone too: restore is to a
point in time). Tables are restored top-down, gold first and bronze last, so at every moment
in between the layers look like a run that stopped part way (gold behind silver behind
bronze), which readers already tolerate; the restore is recorded in the run log before any
table moves, so an interrupted restore is finished by running it again.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from itertools import groupby

from pyspark.sql import Row, SparkSession
from pyspark.sql import functions as F

from lakehouse import ops, storage
from lakehouse.concurrency import at_once
from lakehouse.errors import UsageError
from lakehouse.sources import SOURCES
from lakehouse.tables import RUN_LOG, recorded_tables
from lakehouse.warehouse import Warehouse

log = logging.getLogger(__name__)

# Reverse of the order a run writes in: what a reader sees mid-restore is a run that stopped.
# The pending event dates go first: back before gold, at worst they ask a rerun to recompute
# dates that are already right; after it, a stop in between would leave gold stale unseen.
_LAYER_ORDER = {"ops": 0, "gold": 1, "silver": 2, "quarantine": 3, "bronze": 4}


class UnknownRunError(UsageError):
    """The run id or date to restore to is not in the run log."""


@dataclass(frozen=True)
class TableStep:
    table: str  # "layer/name"
    current: int
    target: int

    @property
    def layer(self) -> str:
        return self.table.split("/", 1)[0]

    @property
    def needed(self) -> bool:
        return self.target >= 0 and self.current != self.target


@dataclass
class RestorePlan:
    reason: str  # what the user asked for, in words
    run_date: date
    undid_runs: list[str]
    steps: list[TableStep] = field(default_factory=list)

    def render(self) -> str:
        lines = [f"restore {self.reason}"]
        lines.append(f"undoes {len(self.undid_runs)} run attempt(s): {', '.join(self.undid_runs)}")
        for s in self.steps:
            action = f"version {s.current} -> {s.target}" if s.needed else "unchanged"
            lines.append(f"  {s.table}: {action}")
        return "\n".join(lines)


def _attempts(spark: SparkSession, warehouse: Warehouse) -> list[Row]:
    """Every run attempt's rows (restores aside), oldest first."""
    with ops.run_log_there(warehouse):
        return (
            storage.read(spark, RUN_LOG.table(warehouse))
            .where(F.col("status") != ops.RESTORE)
            .orderBy("started_at", "run_id", "source")
            .collect()
        )


def _current_versions(spark: SparkSession, warehouse: Warehouse) -> dict[str, int]:
    return ops.versions_of(spark, warehouse, (t for s in SOURCES for t in recorded_tables(s)))


def _plan(
    warehouse_versions: dict[str, int],
    targets: dict[str, int],
    reason: str,
    run_date: date,
    undid: list[str],
) -> RestorePlan:
    steps = [TableStep(name, warehouse_versions.get(name, -1), targets[name]) for name in targets]
    steps.sort(key=lambda s: (_LAYER_ORDER[s.layer], s.table))
    return RestorePlan(reason, run_date, undid, steps)


def _before(undone: list[Row]) -> dict[str, int]:
    """Each table's version before the earliest undone attempt that recorded it. An attempt
    records only the tables of the sources it reached (none, for a source it never started
    after another failed), so a table only a later attempt wrote goes back by that row."""
    targets: dict[str, int] = {}
    for r in sorted(undone, key=lambda r: r["started_at"]):
        for name, version in (r["table_versions_before"] or {}).items():
            targets.setdefault(name, version)
    return targets


def _undone_ids(rows: list[Row], undone: list[Row], targets: dict[str, int]) -> list[str]:
    """The attempts started after the point, and any other whose tables stood past a target
    when it ended: an attempt that ran beside the chosen one (two runs at once) may have
    committed after the point, and what the restore takes back of it must not leave it
    counted as finished, or a rerun of its date would skip the work as unchanged. Such an
    attempt's versions may also hold the other's commits: then it is undone for nothing, and
    its rerun only does its work again."""
    ids = {r["run_id"] for r in undone}
    for r in rows:
        after = r["table_versions"] or {}
        if any(name in after and after[name] > v for name, v in targets.items() if v >= 0):
            ids.add(r["run_id"])
    return sorted(ids)


def plan_before_run(spark: SparkSession, warehouse: Warehouse, run_id: str) -> RestorePlan:
    """The versions every table had before the attempt `run_id` wrote anything."""
    rows = _attempts(spark, warehouse)
    mine = [r for r in rows if r["run_id"] == run_id]
    if not mine:
        raise UnknownRunError(f"run {run_id!r} is not in the run log of {warehouse}")
    started = min(r["started_at"] for r in mine)
    undone = [r for r in rows if r["started_at"] >= started]
    targets = _before(undone)
    return _plan(
        _current_versions(spark, warehouse),
        targets,
        f"to before run {run_id}",
        mine[0]["run_date"],
        _undone_ids(rows, undone, targets),
    )


def plan_to_date(spark: SparkSession, warehouse: Warehouse, day: date) -> RestorePlan:
    """The versions every table had when the last run of `day` finished (later runs undone)."""
    rows = _attempts(spark, warehouse)
    of_day = [r for r in rows if r["run_date"] == day]
    if not of_day:
        raise UnknownRunError(f"no run of {day} is in the run log of {warehouse}")
    last_id = of_day[-1]["run_id"]
    last = [r for r in of_day if r["run_id"] == last_id]
    finished = max(r["started_at"] for r in last)
    undone = [r for r in rows if r["started_at"] > finished]
    # The date's own tables as its last run left them; the others as the later runs found
    # them. Versions the last run could not read (null) are left to the later runs' rows:
    # where a later run recorded the table, its "before" is what the last run left.
    targets = _before(undone)
    for r in last:
        targets.update(r["table_versions"] or {})
    return _plan(
        _current_versions(spark, warehouse),
        targets,
        f"to the end of run {last_id} of {day}",
        day,
        _undone_ids(rows, undone, targets),
    )


# Tables of one layer restored at once: each RESTORE mostly waits on its log and the files.
_RESTORE_THREADS = 4


def apply(spark: SparkSession, warehouse: Warehouse, plan: RestorePlan) -> None:
    """Record the restore, then RESTORE each table that is not at its target version: a layer
    at a time, top-down, its tables together (figures: docs/operations.md). A layer that
    fails stops the restore before the next one starts."""
    _record(spark, warehouse, plan)

    def restore_one(step: TableStep) -> None:
        layer, name = step.table.split("/", 1)
        log.info("restoring %s from version %d to %d", step.table, step.current, step.target)
        storage.restore(spark, warehouse.table(layer, name), step.target)

    # The plan's steps come in layer order (`_plan`).
    for _, steps in groupby((s for s in plan.steps if s.needed), key=lambda s: s.layer):
        at_once(restore_one, list(steps), threads=_RESTORE_THREADS)


def _record(spark: SparkSession, warehouse: Warehouse, plan: RestorePlan) -> None:
    """One run log row per source: status "restore", the runs undone, the versions the tables
    had (`table_versions_before`) and the versions whose content they get back."""
    restore_id = f"restore-{uuid.uuid4().hex[:12]}"
    now = datetime.now(UTC).replace(tzinfo=None)
    rows = []
    for source in SOURCES:
        names = {spec.qualified_name for spec in recorded_tables(source)}
        rows.append(
            {
                "run_id": restore_id,
                "run_date": plan.run_date,
                "source": source.name,
                "status": ops.RESTORE,
                "started_at": now,
                "steps": [],
                "undid_runs": list(plan.undid_runs),
                "table_versions_before": {
                    s.table: s.current for s in plan.steps if s.table in names
                },
                "table_versions": {s.table: s.target for s in plan.steps if s.table in names},
            }
        )
    ops.append(spark, warehouse, rows)
