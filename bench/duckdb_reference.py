"""The daily job's logic in plain DuckDB SQL: the benchmark's same-machine reference.

It reads the same landing files day by day and keeps the same state as the Spark job, so the
timing compares like with like: typed, validated silver tables holding the winner so far of
every business key (with the same rank columns), current-state gold updated for the keys a
day touched, daily counts recomputed only for the event dates a day touched, and the history
tables' timelines recomputed for the keys a day touched from every change kept so far. Bad
rows go to one quarantine table. It is an independent re-implementation of CONTRACT.md
sections 2-4 and 6 (nothing is imported from `lakehouse`), so `compare_gold` is also a
cross-check of the job, all seven gold tables.

    con = connect(Path("ref.duckdb"))
    for day in days:
        run_day(con, landing, day)
    compare_gold(con, Path("spark_gold"))  # {table: rows in one result but not the other}
"""

from __future__ import annotations

import csv
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import date
from enum import Enum
from pathlib import Path

import duckdb

# ---------------------------------------------------------------------------------------------
# Sources and tables
# ---------------------------------------------------------------------------------------------


class Kind(Enum):
    """How a source column is typed and validated (as in the job's `lakehouse.tables`)."""

    KEY = "integer key"  # INTEGER, not null
    DECIMAL = "decimal"  # DECIMAL(10,2), not null, >= 0, at most two fractional digits
    TIMESTAMP = "timestamp"  # not null, one of the contract's formats
    REQUIRED_TEXT = "non-empty text"
    TEXT = "text"
    FLAG = "optional true/false"  # missing or empty means false

    @property
    def sql_type(self) -> str:
        return _SQL_TYPES[self]


_SQL_TYPES = {
    Kind.KEY: "INTEGER",
    Kind.DECIMAL: "DECIMAL(10,2)",
    Kind.TIMESTAMP: "TIMESTAMP",
    Kind.REQUIRED_TEXT: "VARCHAR",
    Kind.TEXT: "VARCHAR",
    Kind.FLAG: "BOOLEAN",
}


@dataclass(frozen=True)
class Source:
    """One landing source: its schema and how its records are identified and ranked."""

    name: str
    columns: tuple[tuple[str, Kind], ...]
    key: tuple[str, ...]
    mutable: bool  # True: latest `updated_at` wins; False: first arrival wins
    optional: tuple[str, ...] = ()  # may be missing from a CSV header without error
    event_time: str | None = None  # events: the column whose date the daily counts use

    @property
    def names(self) -> list[str]:
        return [n for n, _ in self.columns]

    @property
    def silver(self) -> str:
        return f"silver_{self.name}"


CRM = Source(
    "crm_customer_updates",
    (
        ("customer_id", Kind.KEY),
        ("full_name", Kind.TEXT),
        ("email", Kind.TEXT),
        ("tier", Kind.TEXT),
        ("updated_at", Kind.TIMESTAMP),
        ("is_deleted", Kind.FLAG),
        # Drifted columns (bench/fuzz.py writes them), kept in gold as the contract says: its
        # example and a second one.
        ("loyalty_id", Kind.TEXT),
        ("phone", Kind.TEXT),
    ),
    key=("customer_id",),
    mutable=True,
    optional=("is_deleted", "loyalty_id", "phone"),
)
ORDERS = Source(
    "order_updates",
    (
        ("order_id", Kind.KEY),
        ("customer_id", Kind.KEY),
        ("order_total", Kind.DECIMAL),
        ("status", Kind.REQUIRED_TEXT),
        ("updated_at", Kind.TIMESTAMP),
    ),
    key=("order_id",),
    mutable=True,
)
APP_EVENTS = Source(
    "app_events",
    (
        ("event_id", Kind.KEY),
        ("customer_id", Kind.KEY),
        ("event_type", Kind.REQUIRED_TEXT),
        ("event_ts", Kind.TIMESTAMP),
    ),
    key=("event_id",),
    mutable=False,
    event_time="event_ts",
)
TICKETS = Source(
    "ticket_events",
    (
        ("ticket_id", Kind.KEY),
        ("customer_id", Kind.KEY),
        ("status", Kind.REQUIRED_TEXT),
        ("event_ts", Kind.TIMESTAMP),
        ("ingested_at", Kind.TIMESTAMP),
    ),
    key=("ticket_id", "event_ts"),
    mutable=False,
    event_time="event_ts",
)
SOURCES: tuple[Source, ...] = (CRM, ORDERS, APP_EVENTS, TICKETS)

# Gold tables: name -> (columns with their types, the columns that identify a row).
GOLD: dict[str, tuple[tuple[tuple[str, str], ...], tuple[str, ...]]] = {
    "dim_customer_current": (
        (
            ("customer_id", "INTEGER"),
            ("full_name", "VARCHAR"),
            ("email", "VARCHAR"),
            ("tier", "VARCHAR"),
            ("last_updated_at", "TIMESTAMP"),
            ("load_date", "DATE"),
            ("loyalty_id", "VARCHAR"),
            ("phone", "VARCHAR"),
        ),
        ("customer_id",),
    ),
    "fact_order_current": (
        (
            ("order_id", "INTEGER"),
            ("customer_id", "INTEGER"),
            ("order_total", "DECIMAL(10,2)"),
            ("status", "VARCHAR"),
            ("last_updated_at", "TIMESTAMP"),
            ("load_date", "DATE"),
        ),
        ("order_id",),
    ),
    "fact_app_events_daily": (
        (("event_date", "DATE"), ("event_type", "VARCHAR"), ("event_count", "BIGINT")),
        ("event_date", "event_type"),
    ),
    "fact_ticket_current": (
        (
            ("ticket_id", "INTEGER"),
            ("customer_id", "INTEGER"),
            ("status", "VARCHAR"),
            ("last_event_ts", "TIMESTAMP"),
            ("load_date", "DATE"),
        ),
        ("ticket_id",),
    ),
    "fact_ticket_events_daily": (
        (("event_date", "DATE"), ("status", "VARCHAR"), ("event_count", "BIGINT")),
        ("event_date", "status"),
    ),
}
_VALIDITY = (("valid_from", "TIMESTAMP"), ("valid_to", "TIMESTAMP"), ("is_current", "BOOLEAN"))


@dataclass(frozen=True)
class Timeline:
    """A mutable source's history table: the attributes whose change opens a version."""

    source: Source
    table: str
    tracked: tuple[str, ...]
    deletion_flag: str | None = None


TIMELINES = (
    Timeline(CRM, "dim_customer_history", ("full_name", "email", "tier"), "is_deleted"),
    Timeline(ORDERS, "fact_order_history", ("customer_id", "order_total", "status")),
)
GOLD["dim_customer_history"] = (
    (
        ("customer_id", "INTEGER"),
        ("full_name", "VARCHAR"),
        ("email", "VARCHAR"),
        ("tier", "VARCHAR"),
        *_VALIDITY,
    ),
    ("customer_id", "valid_from"),
)
GOLD["fact_order_history"] = (
    (
        ("order_id", "INTEGER"),
        ("customer_id", "INTEGER"),
        ("order_total", "DECIMAL(10,2)"),
        ("status", "VARCHAR"),
        *_VALIDITY,
    ),
    ("order_id", "valid_from"),
)

# Rank columns carried by silver: they decide every later contest for a key.
_RANK = (("_ingest_date", "DATE"), ("_source_file", "VARCHAR"), ("_record_hash", "VARCHAR"))
_CSV = (".csv",)
_JSONL = (".jsonl", ".json", ".ndjson")

_INT = "[+-]?[0-9]+"
_DECIMAL = r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)"
_TS_MINUTES = "[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}"
_TS_SECONDS = "[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}"


def _q(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    """A SQL string literal (file paths and reasons are not trusted to be quote-free)."""
    return "'" + text.replace("'", "''") + "'"


def _cols(names: list[str] | tuple[str, ...], prefix: str = "") -> str:
    return ", ".join(f"{prefix}{_q(n)}" for n in names)


def _changes(source: Source) -> str:
    return f"changes_{source.name}"


def _silver_columns(source: Source) -> list[tuple[str, str]]:
    cols = [*((n, k.sql_type) for n, k in source.columns), *_RANK]
    return [*cols, ("event_date", "DATE")] if source.event_time else cols


def connect(db_path: Path) -> duckdb.DuckDBPyConnection:
    """Open (or create) the reference database, creating its tables if they are missing."""
    con = duckdb.connect(str(db_path))
    for source in SOURCES:
        cols = ", ".join(f"{_q(n)} {t}" for n, t in _silver_columns(source))
        con.execute(f"CREATE TABLE IF NOT EXISTS {source.silver} ({cols})")
        if source.mutable:  # every change, not just the latest: the history tables' input
            con.execute(f"CREATE TABLE IF NOT EXISTS {_changes(source)} ({cols})")
    for table, (columns, _) in GOLD.items():
        cols = ", ".join(f"{_q(n)} {t}" for n, t in columns)
        con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({cols})")
    con.execute(
        "CREATE TABLE IF NOT EXISTS quarantine (source VARCHAR, _ingest_date DATE, "
        "_source_file VARCHAR, _raw_record VARCHAR, _reason VARCHAR)"
    )
    return con


# ---------------------------------------------------------------------------------------------
# Landing: the day's files as rows of strings
# ---------------------------------------------------------------------------------------------


def normalize_name(name: str) -> str:
    """Column names as the job stores them: lower case, runs of other characters as `_`."""
    cleaned = re.sub(r"[^0-9a-z_]+", "_", name.strip().lower()).strip("_")
    return cleaned or "unnamed"


def _day_files(landing: Path, source: Source, day: date) -> list[Path]:
    """Data files of one source and day, by name; `_`/`.` files and other suffixes skipped."""
    folder = landing / source.name / f"ingest_date={day.isoformat()}"
    if not folder.is_dir():
        return []
    return sorted(
        (
            p
            for p in folder.iterdir()
            if p.is_file()
            and not p.name.startswith(("_", "."))
            and p.name.lower().endswith(_CSV + _JSONL)
        ),
        key=lambda p: p.name,
    )


def _csv_header(path: Path) -> list[str] | None:
    """The header's field names (RFC 4180 quoting honoured); None for an empty file."""
    with path.open(encoding="utf-8", errors="replace", newline="") as f:
        line = f.readline().lstrip("\ufeff").rstrip("\r\n")
    return next(csv.reader([line])) if line.strip() else None


def _file_list(files: list[Path]) -> str:
    return "[" + ", ".join(_lit(str(f)) for f in files) + "]"


def _csv_select(source: Source, files: list[Path], header: list[str]) -> str:
    """Rows of CSV files sharing one header, as strings under their normalized names.

    Columns are read by position, so a header naming a column twice cannot confuse the reader;
    a header lacking a schema column (or naming one twice) makes every row of the file bad.
    Lines with the wrong field count are dropped by the reader (bad rows either way).
    """
    positional = {f"c{i}": "VARCHAR" for i in range(len(header))}
    first: dict[str, str] = {}
    for pos, name in zip(positional, header, strict=True):
        first.setdefault(normalize_name(name), pos)
    normalized = [normalize_name(n) for n in header]
    twice = sorted({n for n in normalized if normalized.count(n) > 1})
    missing = [c for c in source.names if c not in first and c not in source.optional]
    error = "NULL"
    if missing:
        error = _lit(f"file: header lacks column(s) {', '.join(missing)}")
    elif twice:
        error = _lit(f"file: header names column(s) twice: {', '.join(twice)}")
    values = [
        f"{_q(first[c])} AS {_q(c)}" if c in first else f"NULL AS {_q(c)}" for c in source.names
    ]
    values += [f"{_q(pos)} AS {_q(c)}" for c, pos in first.items() if c not in source.names]
    columns = "{" + ", ".join(f"{_lit(k)}: 'VARCHAR'" for k in positional) + "}"
    return (
        f"SELECT {', '.join(values)}, parse_filename(filename) AS _source_file, "
        f"{error}::VARCHAR AS _parse_error, NULL::VARCHAR AS _raw_record "
        f"FROM read_csv({_file_list(files)}, columns={columns}, header=true, delim=',', "
        "quote='\"', escape='\"', auto_detect=false, ignore_errors=true, filename=true)"
    )


def _jsonl_select(con: duckdb.DuckDBPyConnection, source: Source, files: list[Path]) -> str:
    """Rows of JSON Lines files, every value a string; a line that is not a JSON object is
    kept with its raw text and a parse error instead of aborting the load.

    The lines are staged once, and the keys present found first (as the job does), so drifted
    keys take part in the record fingerprint exactly as in the job.
    """
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _lines AS "
        "SELECT line, parse_filename(filename) AS _source_file, "
        "CASE WHEN json_valid(line) THEN json_type(line) END AS _json_type "
        f"FROM read_csv({_file_list(files)}, columns={{'line': 'VARCHAR'}}, header=false, "
        "delim=E'\\x01', quote='', escape='', auto_detect=false, ignore_errors=true, "
        "filename=true) WHERE trim(line) <> ''"
    )
    keys = sorted(
        str(r[0])
        for r in con.sql(
            "SELECT DISTINCT unnest(json_keys(line)) FROM _lines WHERE _json_type = 'OBJECT'"
        ).fetchall()
    )
    by_name: dict[str, list[int]] = {}
    for i, key in enumerate(keys, start=1):
        by_name.setdefault(normalize_name(key), []).append(i)
    paths = "[" + ", ".join(_lit('$."' + k.replace('"', '\\"') + '"') for k in keys) + "]"
    names = [*source.names, *(n for n in by_name if n not in source.names)]
    values = [
        f"coalesce({', '.join(f'_v[{i}]' for i in by_name[c])})" if c in by_name else "NULL"
        for c in names
    ]
    extract = f"json_extract_string(line, {paths})" if keys else "[]::VARCHAR[]"
    return (
        "SELECT "
        + ", ".join(f"{v}::VARCHAR AS {_q(n)}" for v, n in zip(values, names, strict=True))
        + ", _source_file, CASE WHEN _json_type IS NULL THEN 'record: unparseable JSON' "
        "WHEN _json_type <> 'OBJECT' THEN 'record: JSON value is not an object' END "
        "AS _parse_error, CASE WHEN _json_type IS DISTINCT FROM 'OBJECT' THEN line END "
        f"AS _raw_record FROM (SELECT *, CASE WHEN _json_type = 'OBJECT' THEN {extract} END "
        "AS _v FROM _lines)"
    )


def _landed_select(con: duckdb.DuckDBPyConnection, source: Source, files: list[Path]) -> str | None:
    """One SELECT over all of the day's rows of a source (CSV groups and JSON Lines)."""
    parts: list[str] = []
    by_header: dict[tuple[str, ...], list[Path]] = {}
    for f in files:
        if f.name.lower().endswith(_CSV) and (header := _csv_header(f)) is not None:
            by_header.setdefault(tuple(header), []).append(f)
    for names, group in sorted(by_header.items(), key=lambda kv: kv[1][0].name):
        parts.append(_csv_select(source, group, list(names)))
    jsonl = [f for f in files if f.name.lower().endswith(_JSONL)]
    if jsonl:
        parts.append(_jsonl_select(con, source, jsonl))
    return " UNION ALL BY NAME ".join(f"({p})" for p in parts) if parts else None


# ---------------------------------------------------------------------------------------------
# Rules: typed values, validity, reasons
# ---------------------------------------------------------------------------------------------


def _parsed(kind: Kind, raw: str) -> str:
    """The typed value of a raw string column; NULL where the rules reject it."""
    v = f"trim({raw})"
    if kind is Kind.KEY:
        return f"CASE WHEN regexp_full_match({v}, '{_INT}') THEN try_cast({v} AS INTEGER) END"
    if kind is Kind.DECIMAL:
        return (
            f"CASE WHEN regexp_full_match({v}, '{_DECIMAL}') AND NOT "
            rf"regexp_full_match({v}, '.*\.[0-9]{{3,}}') THEN try_cast({v} AS DECIMAL(10,2)) END"
        )
    if kind is Kind.TIMESTAMP:
        text = f"replace({v}, 'T', ' ')"
        return (
            f"CASE WHEN regexp_full_match({v}, '{_TS_SECONDS}') "
            f"THEN try_strptime({text}, '%Y-%m-%d %H:%M:%S') "
            f"WHEN regexp_full_match({v}, '{_TS_MINUTES}') "
            f"THEN try_strptime({text}, '%Y-%m-%d %H:%M') END"
        )
    if kind is Kind.FLAG:
        return (
            f"CASE WHEN {raw} IS NULL OR {v} = '' THEN false WHEN lower({v}) = 'true' THEN true "
            f"WHEN lower({v}) = 'false' THEN false END"
        )
    if kind is Kind.TEXT:  # an empty text is no value (CSV has no null): a JSON "" too
        return f"nullif({raw}, '')"
    return raw


def _valid(kind: Kind, typed: str) -> str | None:
    """Whether a column passes its rule, given its typed value; None when it always does."""
    if kind is Kind.DECIMAL:
        return f"coalesce({typed} >= 0, false)"
    if kind is Kind.REQUIRED_TEXT:  # kept as it arrived, so the typed value is the raw one
        return f"coalesce(trim({typed}) <> '', false)"
    if kind is Kind.TEXT:
        return None
    return f"{typed} IS NOT NULL"


def _reason(name: str, kind: Kind, raw: str) -> str | None:
    """`<column>: <rule>` for the first rule a raw value breaks (the job's wording)."""
    v = f"trim({raw})"
    blank = f"({raw} IS NULL OR {v} = '')"
    checks: list[tuple[str, str]] = []
    if kind is Kind.KEY:
        checks = [
            (blank, "missing"),
            (f"NOT regexp_full_match({v}, '{_INT}')", "not an integer"),
            (f"try_cast({v} AS INTEGER) IS NULL", "integer out of range"),
        ]
    elif kind is Kind.DECIMAL:
        checks = [
            (blank, "missing"),
            (f"NOT regexp_full_match({v}, '{_DECIMAL}')", "not a decimal"),
            (rf"regexp_full_match({v}, '.*\.[0-9]{{3,}}')", "more than two fractional digits"),
            (f"try_cast({v} AS DECIMAL(38,10)) < 0", "negative"),
            (f"try_cast({v} AS DECIMAL(10,2)) IS NULL", "out of range"),
        ]
    elif kind is Kind.TIMESTAMP:
        checks = [
            (blank, "missing"),
            (
                f"NOT (regexp_full_match({v}, '{_TS_MINUTES}') "
                f"OR regexp_full_match({v}, '{_TS_SECONDS}'))",
                "not a timestamp (YYYY-MM-DD HH:MM[:SS])",
            ),
            (f"({_parsed(kind, raw)}) IS NULL", "no such date or time"),
        ]
    elif kind is Kind.REQUIRED_TEXT:
        checks = [(blank, "empty")]
    elif kind is Kind.FLAG:
        checks = [(f"NOT {blank} AND lower({v}) NOT IN ('true', 'false')", "not true or false")]
    if not checks:
        return None
    return "CASE " + " ".join(f"WHEN {c} THEN {_lit(f'{name}: {r}')}" for c, r in checks) + " END"


def _record_json(columns: list[str]) -> str:
    """The record as the job fingerprints it: Spark's `to_json(struct(...))` of the raw values
    in column-name order, null fields left out."""
    fields = [
        f"CASE WHEN {_q(c)} IS NOT NULL THEN '{_q(c)}:' || to_json({_q(c)}) END" for c in columns
    ]
    return "'{' || concat_ws(',', " + ", ".join(fields) + ") || '}'"


# ---------------------------------------------------------------------------------------------
# One source, one day
# ---------------------------------------------------------------------------------------------


def _stage(con: duckdb.DuckDBPyConnection, source: Source, landed: str, day: date) -> None:
    """Type and check the day's rows into `_checked`; bad rows go to quarantine."""
    drifted = [
        str(r[0])
        for r in con.sql(f"DESCRIBE SELECT * FROM ({landed})").fetchall()
        if r[0] not in source.names and not str(r[0]).startswith("_")
    ]
    raw = {n: f"_r.{_q(n)}" for n in source.names}
    typed = [f"{_parsed(k, raw[n])} AS {_q(n)}" for n, k in source.columns]
    checks = [c for n, k in source.columns if (c := _valid(k, _q(n))) is not None]
    reasons = [r for n, k in source.columns if (r := _reason(n, k, raw[n])) is not None]
    record = _record_json(sorted(source.names + drifted))
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _checked AS "
        f"SELECT *, _parse_error IS NULL AND {' AND '.join(checks)} AS _valid "
        f"FROM (SELECT {', '.join(typed)}, _r._source_file, _r._parse_error, "
        f"coalesce(_r._raw_record, {record}) AS _record, "
        f"CASE WHEN _r._parse_error IS NOT NULL THEN _r._parse_error ELSE "
        f"nullif(concat_ws('; ', {', '.join(reasons)}), '') END AS _reason "
        f"FROM ({landed}) _r)"
    )
    # Replacing the day's quarantine keeps a rerun of a date from doubling it.
    con.execute("DELETE FROM quarantine WHERE source = ? AND _ingest_date = ?", [source.name, day])
    con.execute(
        "INSERT INTO quarantine SELECT ?, ?, _source_file, _record, _reason "
        "FROM _checked WHERE NOT _valid",
        [source.name, day],
    )


def _batch(con: duckdb.DuckDBPyConnection, source: Source, day: date) -> None:
    """The day's valid rows, one per key: the winner by the same total order as the job."""
    order = (
        "updated_at DESC, _source_file DESC, _record_hash DESC"
        if source.mutable
        else "_source_file ASC, _record_hash ASC"
    )
    event_date = f", CAST({source.event_time} AS DATE) AS event_date" if source.event_time else ""
    rows = (
        f"SELECT {_cols(source.names)}, DATE '{day.isoformat()}' AS _ingest_date, _source_file, "
        f"sha256(_record) AS _record_hash{event_date} FROM _checked WHERE _valid"
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _batch AS {rows} "
        f"QUALIFY row_number() OVER (PARTITION BY {_cols(source.key)} ORDER BY {order}) = 1"
    )
    if source.mutable:  # one record per key and `updated_at`: the top-ranked one
        group = _cols((*source.key, "updated_at"))
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE _change_batch AS {rows} "
            f"QUALIFY row_number() OVER (PARTITION BY {group} ORDER BY {order}) = 1"
        )


def _outranks(source: Source) -> str:
    """Whether the new record `s` strictly beats the stored one `t` (the job's rank chain)."""
    chain = (
        [("updated_at", ">"), ("_ingest_date", ">"), ("_source_file", ">"), ("_record_hash", ">")]
        if source.mutable
        else [("_ingest_date", "<"), ("_source_file", "<"), ("_record_hash", "<")]
    )
    expr = ""
    for name, op in reversed(chain):
        beats = f"s.{name} {op} t.{name}"
        expr = beats if not expr else f"({beats} OR (s.{name} = t.{name} AND {expr}))"
    return expr


def _merge_silver(con: duckdb.DuckDBPyConnection, source: Source) -> list[date]:
    """Fold the day's winners into silver; returns the event dates whose counts may change
    (the batch's, and those of stored records a winner displaces)."""
    touched: list[date] = []
    if source.event_time:
        on = " AND ".join(f"t.{_q(k)} = b.{_q(k)}" for k in source.key)
        touched = [
            r[0]
            for r in con.sql(
                "SELECT DISTINCT event_date FROM _batch UNION "
                f"SELECT DISTINCT t.event_date FROM {source.silver} t SEMI JOIN _batch b ON {on}"
            ).fetchall()
        ]
    _merge_ranked(con, source, source.silver, "_batch", source.key)
    return touched


def _merge_changes(con: duckdb.DuckDBPyConnection, source: Source) -> None:
    """Fold the day's records into the change history, by key and `updated_at`."""
    _merge_ranked(con, source, _changes(source), "_change_batch", (*source.key, "updated_at"))


def _merge_ranked(
    con: duckdb.DuckDBPyConnection, source: Source, table: str, batch: str, match: tuple[str, ...]
) -> None:
    """MERGE `batch` into `table` on `match`: a stored record is replaced only by one that
    outranks it (the job's rank chain), a new one inserted."""
    names = [n for n, _ in _silver_columns(source)]
    on = " AND ".join(f"t.{_q(k)} = s.{_q(k)}" for k in match)
    con.execute(
        f"MERGE INTO {table} t USING {batch} s ON {on} "
        f"WHEN MATCHED AND {_outranks(source)} THEN UPDATE SET "
        + ", ".join(f"{_q(n)} = s.{_q(n)}" for n in names if n not in match)
        + f" WHEN NOT MATCHED THEN INSERT ({_cols(names)}) VALUES ({_cols(names, 's.')})"
    )


def _update_history(con: duckdb.DuckDBPyConnection, spec: Timeline) -> None:
    """Replace the timelines of the keys the day touched, each recomputed from its whole
    change history: a record opens a version when nothing is in force or its tracked
    attributes differ from the record before it; a deletion closes the version in force."""
    key = _q(spec.source.key[0])
    tracked = _cols(spec.tracked)
    deleted = f"coalesce({_q(spec.deletion_flag)}, false)" if spec.deletion_flag else "false"
    same = " AND ".join(f"{_q(c)} IS NOT DISTINCT FROM lag({_q(c)}) OVER w" for c in spec.tracked)
    touched = f"{key} IN (SELECT {key} FROM _batch)"
    con.execute(f"DELETE FROM {spec.table} WHERE {touched}")
    con.execute(
        f"INSERT INTO {spec.table} "
        f"SELECT {key}, {tracked}, updated_at, valid_to, valid_to IS NULL FROM ("
        f"  SELECT *, lead(updated_at) OVER (PARTITION BY {key} ORDER BY updated_at) AS valid_to"
        f"  FROM ("
        f"    SELECT *, NOT _deleted AND (_prev IS NULL OR _prev OR NOT _same) AS _opens,"
        f"      _deleted AND NOT coalesce(_prev, true) AS _closes"
        f"    FROM ("
        f"      SELECT {key}, {tracked}, updated_at, {deleted} AS _deleted,"
        f"        lag({deleted}) OVER w AS _prev, {same} AS _same"
        f"      FROM {_changes(spec.source)} WHERE {touched}"
        f"      WINDOW w AS (PARTITION BY {key} ORDER BY updated_at))"
        f"    WHERE _opens OR _closes))"
        f" WHERE _opens"
    )


def _merge_current(con: duckdb.DuckDBPyConnection, table: str, rows: str, delete: str) -> None:
    """Make a current-state table's touched keys equal `rows` (silver's view of them)."""
    columns, key = GOLD[table]
    names = [n for n, _ in columns]
    on = " AND ".join(f"g.{_q(k)} = s.{_q(k)}" for k in key)
    con.execute(
        f"MERGE INTO {table} g USING ({rows}) s ON {on} "
        f"WHEN MATCHED AND {delete} THEN DELETE "
        "WHEN MATCHED THEN UPDATE SET "
        + ", ".join(f"{_q(n)} = s.{_q(n)}" for n in names if n not in key)
        + f" WHEN NOT MATCHED AND NOT ({delete}) THEN INSERT ({_cols(names)}) "
        f"VALUES ({_cols(names, 's.')})"
    )


def _replace_daily(
    con: duckdb.DuckDBPyConnection, table: str, source: Source, dimension: str, dates: list[date]
) -> None:
    """Recompute, in full from silver, only the event dates the day touched."""
    if not dates:
        return
    listed = ", ".join(f"DATE '{d.isoformat()}'" for d in sorted(dates))
    con.execute(f"DELETE FROM {table} WHERE event_date IN ({listed})")
    con.execute(
        f"INSERT INTO {table} SELECT event_date, {dimension}, count(*) FROM {source.silver} "
        f"WHERE event_date IN ({listed}) GROUP BY ALL"
    )


def _update_gold(con: duckdb.DuckDBPyConnection, source: Source, dates: list[date]) -> None:
    """The gold tables a source feeds, for the keys and event dates the day touched."""
    if source is CRM:
        _merge_current(
            con,
            "dim_customer_current",
            "SELECT customer_id, full_name, email, tier, updated_at AS last_updated_at, "
            f"_ingest_date AS load_date, loyalty_id, phone, is_deleted FROM {CRM.silver} "
            "SEMI JOIN _batch USING (customer_id)",
            "s.is_deleted",
        )
    elif source is ORDERS:
        _merge_current(
            con,
            "fact_order_current",
            "SELECT order_id, customer_id, order_total, status, updated_at AS last_updated_at, "
            f"_ingest_date AS load_date FROM {ORDERS.silver} SEMI JOIN _batch USING (order_id)",
            "false",
        )
    elif source is APP_EVENTS:
        _replace_daily(con, "fact_app_events_daily", source, "event_type", dates)
    else:
        _merge_current(
            con,
            "fact_ticket_current",
            "SELECT ticket_id, customer_id, status, event_ts AS last_event_ts, "
            f"_ingest_date AS load_date FROM {TICKETS.silver} "
            "WHERE ticket_id IN (SELECT ticket_id FROM _batch) "
            "QUALIFY row_number() OVER (PARTITION BY ticket_id ORDER BY event_ts DESC) = 1",
            "false",
        )
        _replace_daily(con, "fact_ticket_events_daily", source, "status", dates)


@contextmanager
def _timed(steps: dict[str, float], name: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        steps[name] = time.perf_counter() - start


def run_day(con: duckdb.DuckDBPyConnection, landing: Path, day: date) -> dict[str, float]:
    """Process one ingest date incrementally (like the Spark job's run for that date); returns
    per-step seconds. One transaction, so a failed day leaves every table as it was."""
    steps: dict[str, float] = {}
    con.execute("BEGIN TRANSACTION")
    try:
        for source in SOURCES:
            with _timed(steps, f"{source.name}.read"):
                landed = _landed_select(con, source, _day_files(landing, source, day))
                if landed is None:
                    continue
                _stage(con, source, landed, day)
            with _timed(steps, f"{source.name}.silver"):
                _batch(con, source, day)
                dates = _merge_silver(con, source)
                if source.mutable:
                    _merge_changes(con, source)
            with _timed(steps, f"{source.name}.gold"):
                _update_gold(con, source, dates)
                for spec in TIMELINES:
                    if spec.source is source:
                        _update_history(con, spec)
        with _timed(steps, "commit"):
            con.execute("COMMIT")
    except BaseException:
        with suppress(duckdb.Error):  # the failure itself may have ended the transaction
            con.execute("ROLLBACK")
        raise
    for temp in ("_lines", "_checked", "_batch", "_change_batch"):
        con.execute(f"DROP TABLE IF EXISTS temp.{temp}")
    return steps


def run_days(
    db_path: Path, landing: Path, days: list[date]
) -> tuple[duckdb.DuckDBPyConnection, list[float]]:
    """A fresh reference database run over `days` in order: the open connection, and each
    day's seconds."""
    db_path.unlink(missing_ok=True)
    con = connect(db_path)
    seconds = []
    for day in days:
        start = time.perf_counter()
        run_day(con, landing, day)
        seconds.append(time.perf_counter() - start)
    return con, seconds


# ---------------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------------


def export_gold(con: duckdb.DuckDBPyConnection, out_dir: Path) -> None:
    """Write each gold table to `out_dir/<table>.parquet`, ordered by its key."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for table, (_, key) in GOLD.items():
        target = _lit(str(out_dir / f"{table}.parquet"))
        con.execute(
            f"COPY (SELECT * FROM {table} ORDER BY {_cols(key)}) TO {target} (FORMAT parquet)"
        )


def compare_gold(con: duckdb.DuckDBPyConnection, spark_gold_dir: Path) -> dict[str, int]:
    """Per gold table, the rows in one result but not the other (a multiset symmetric
    difference), both sides cast to the declared types; the Spark side is read from
    `spark_gold_dir/<table>/*.parquet`. A drifted column the job's gold lacks (no file ever
    brought it) is null there."""
    diffs: dict[str, int] = {}
    for table, (columns, _) in GOLD.items():
        files = f"read_parquet({_lit(str(spark_gold_dir / table / '*.parquet'))})"
        present = {str(r[0]) for r in con.sql(f"DESCRIBE SELECT * FROM {files}").fetchall()}
        cast = ", ".join(f"CAST({_q(n)} AS {t}) AS {_q(n)}" for n, t in columns)
        spark_cast = ", ".join(
            f"CAST({_q(n) if n in present else 'NULL'} AS {t}) AS {_q(n)}" for n, t in columns
        )
        spark = f"SELECT {spark_cast} FROM {files}"
        ours = f"SELECT {cast} FROM {table}"
        row = con.sql(
            f"SELECT (SELECT count(*) FROM ({spark} EXCEPT ALL {ours})) + "
            f"(SELECT count(*) FROM ({ours} EXCEPT ALL {spark}))"
        ).fetchall()[0]
        diffs[table] = int(row[0])
    return diffs
