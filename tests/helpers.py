"""Helpers to land files, run dates and read every table back for comparison."""

from __future__ import annotations

import atexit
import json
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import NamedTuple

from chispa import DataFramesNotEqualError, assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse import storage
from lakehouse.cli import maintenance_main, report_main, restore_main, show_gold_main
from lakehouse.concurrency import at_once
from lakehouse.config import Settings
from lakehouse.ddl import ensure_tables
from lakehouse.run import run_date
from lakehouse.session import LOCAL_TEST_CONF, SHORT_RUN_JVM_OPTIONS
from lakehouse.sources import CRM, ORDERS, TICKETS
from lakehouse.tables import RUN_LOG, TableSpec, all_specs
from lakehouse.warehouse import Table, Warehouse


# The entry points that read a warehouse and no landing zone: each one's script under jobs/,
# its function, and the options it needs.
class WarehouseReader(NamedTuple):
    job: str
    main: Callable[[list[str]], int]
    argv: list[str]


WAREHOUSE_READERS = [
    WarehouseReader("report", report_main, ["--run-date", "2025-03-01"]),
    WarehouseReader("maintenance", maintenance_main, []),
    WarehouseReader("restore", restore_main, ["--to-date", "2025-03-01"]),
    WarehouseReader("show_gold", show_gold_main, []),
]

# Rows of a table written by hand, as `createDataFrame` takes them.
Rows = Sequence[tuple[object, ...]]

# Columns that record when or by which attempt a row was written, not what it says.
VOLATILE = ("_load_time", "_run_id")

# CSV headers of every column a source declares, in its order.
CRM_HEADER = ",".join(CRM.column_names)
ORDER_HEADER = ",".join(ORDERS.column_names)
TICKET_HEADER = ",".join(TICKETS.column_names)


def run_process(
    args: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """Run a whole process to completion; on failure the assertion shows its output's end."""
    proc = subprocess.run(
        list(args), capture_output=True, text=True, check=False, cwd=cwd, env=env, timeout=timeout
    )
    assert proc.returncode == 0, f"{list(args)}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def one_run_conf(scratch: Path) -> dict[str, str]:
    """The suite's settings for tiny data, for a JVM a test's process starts for one short run:
    the quick compiler alone, as a local spark-submit has it (the Hive metastore test's two
    processes: 50-51 s against 58-60 s; the wheel's test: 26-28 s against 31-32 s), and
    Derby's files under `scratch`."""
    return {
        **LOCAL_TEST_CONF,
        "spark.driver.extraJavaOptions": (
            f"{LOCAL_TEST_CONF['spark.driver.extraJavaOptions']} {SHORT_RUN_JVM_OPTIONS} "
            f"-Dderby.system.home={scratch}"
        ),
    }


def day_dir(landing: Path, source: str, day: date) -> Path:
    folder = landing / source / f"ingest_date={day.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def write_csv(landing: Path, source: str, day: date, name: str, text: str) -> Path:
    path = day_dir(landing, source, day) / name
    path.write_text(text.strip("\n") + "\n", encoding="utf-8")
    return path


def write_jsonl(landing: Path, source: str, day: date, name: str, lines: Iterable[object]) -> Path:
    """Dicts become JSON objects; strings are written as they are (for broken lines)."""
    path = day_dir(landing, source, day) / name
    text = "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def app_event(event_id: int, kind: str, ts: str, customer: int = 1) -> dict[str, object]:
    """One app event as a JSON Lines object."""
    return {"event_id": event_id, "customer_id": customer, "event_type": kind, "event_ts": ts}


def write_config(folder: Path, text: str) -> Path:
    """A YAML config file holding `text`."""
    path = folder / "conf.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def fresh_warehouse(spark: SparkSession, warehouse: Path) -> Path:
    """A test's new warehouse as the job's own table creation leaves it: a copy of an empty
    one made once per test process, instead of some twenty CREATEs per test (creation itself
    is tested on its own: tests/spark/test_table_creation.py, test_catalog.py, and every
    whole-process test). A warehouse already there is left as it is."""
    if not warehouse.exists():
        if not _EMPTY:
            template = Path(tempfile.mkdtemp(prefix="lakehouse-empty-")) / "wh"
            atexit.register(shutil.rmtree, template.parent, ignore_errors=True)
            ensure_tables(spark, Warehouse(str(template)))
            _EMPTY.append(template)
        shutil.copytree(_EMPTY[0], warehouse)
    return warehouse


_EMPTY: list[Path] = []  # the empty warehouse fresh_warehouse copies, once made


def settings_for(
    spark: SparkSession, landing: Path, warehouse: Path, **overrides: object
) -> Settings:
    """A test's settings, its warehouse made fresh if it is not there yet."""
    fresh_warehouse(spark, warehouse)
    return replace(Settings(landing=str(landing), warehouse=str(warehouse)), **overrides)  # type: ignore[arg-type]


def run_all(
    spark: SparkSession,
    landing: Path,
    warehouse: Path,
    days: Sequence[date],
    *,
    source_threads: int | None = None,
) -> None:
    """Run the dates one after another, as a scheduler would (default: the job's threads)."""
    overrides = {} if source_threads is None else {"source_threads": source_threads}
    settings = settings_for(spark, landing, warehouse, **overrides)
    for day in days:
        run_date(spark, settings, day)


def read(spark: SparkSession, spec: TableSpec, warehouse: Path | Warehouse) -> DataFrame:
    """A table of a test's warehouse folder (by path), or of a warehouse by name."""
    if not isinstance(warehouse, Warehouse):
        warehouse = by_path(warehouse)
    return storage.read(spark, spec.table(warehouse))


def by_path(warehouse: Path) -> Warehouse:
    """The warehouse at a test's folder, its tables addressed by path."""
    return Warehouse(str(warehouse))


def table_at(spec: TableSpec, warehouse: Path) -> Table:
    return spec.table(by_path(warehouse))


def stable(frame: DataFrame) -> DataFrame:
    """A table's content without the columns that only say when/which attempt wrote it."""
    return frame.drop(*[c for c in VOLATILE if c in frame.columns])


def _columns(frame: DataFrame) -> list[tuple[str, str]]:
    return [(f.name, f.dataType.simpleString()) for f in frame.schema.fields]


def _rows(frame: DataFrame) -> list[str]:
    return sorted(repr(tuple(row)) for row in frame.collect())


def assert_same_rows(left: DataFrame, right: DataFrame) -> None:
    """The same columns (nullability aside) and the same multiset of rows.

    One collect per side, compared in Python: chispa's order-free check sorts in Spark
    first, a range-sampling job and a sort per side, which the many whole-warehouse
    comparisons of the suite pay for dearly. On a difference chispa decides and shows it.
    """
    assert _columns(left) == _columns(right), (_columns(left), _columns(right))
    if _rows(left) != _rows(right):
        try:
            assert_df_equality(left, right, ignore_row_order=True, ignore_nullable=True)
        except DataFramesNotEqualError as exc:  # not an AssertionError: make it one
            raise AssertionError(str(exc)) from exc


def _each_table(check: Callable[[TableSpec], None], specs: Iterable[TableSpec]) -> None:
    """A few tables at a time: most of a tiny table's read is waiting on its log."""

    def named(spec: TableSpec) -> None:
        try:
            check(spec)
        except AssertionError as exc:
            raise AssertionError(f"table {spec.qualified_name} differs: {exc}") from exc

    at_once(named, specs, threads=4)  # every table compared, then the first failure raised


# What the equality of two warehouses covers: the run log records attempts, so it differs
# between any two histories of runs.
EVERY_TABLE_BUT_THE_RUN_LOG: tuple[TableSpec, ...] = tuple(
    s for s in all_specs() if s is not RUN_LOG
)


def assert_same_tables(
    spark: SparkSession,
    left: Path | Warehouse,
    right: Path | Warehouse,
    specs: Iterable[TableSpec] = EVERY_TABLE_BUT_THE_RUN_LOG,
    *,
    load_metadata: bool = False,
) -> None:
    """Each table holds the same columns, in the same order, and the same rows in both
    warehouses: the one comparison of warehouses. Which attempt wrote a row and when
    (`_run_id`, `_load_time`) only counts with `load_metadata` (a rerun that must change
    nothing at all)."""

    def check(spec: TableSpec) -> None:
        a, b = read(spark, spec, left), read(spark, spec, right)
        if not load_metadata:
            a, b = stable(a), stable(b)
        assert_same_rows(a, b)

    _each_table(check, specs)


def assert_gold(
    spark: SparkSession,
    warehouse: Path | Warehouse,
    spec: TableSpec,
    rows: Rows,
    extra_columns: Sequence[T.StructField] = (),
) -> None:
    """A gold table holds exactly these rows, in any order."""
    assert_df_equality(
        read(spark, spec, warehouse),
        gold_frame(spark, spec, rows, extra_columns),
        ignore_row_order=True,
        ignore_nullable=True,
    )


def gold_frame(
    spark: SparkSession, spec: TableSpec, rows: Rows, extra_columns: Sequence[T.StructField] = ()
) -> DataFrame:
    """Expected rows of a gold table under its declared schema and the drifted columns a
    test's data adds after it."""
    return spark.createDataFrame(rows, T.StructType([*spec.schema.fields, *extra_columns]))


def copy_warehouse(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def files_by_partition(
    spark: SparkSession, spec: TableSpec, warehouse: Path
) -> dict[date, set[str]]:
    """Data files currently holding each partition of a table (to prove what was rewritten)."""
    rows = (
        read(spark, spec, warehouse)
        .select("event_date", F.input_file_name().alias("file"))
        .distinct()
        .collect()
    )
    out: dict[date, set[str]] = {}
    for r in rows:
        out.setdefault(r["event_date"], set()).add(r["file"])
    return out
