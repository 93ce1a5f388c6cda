"""`make fuzz`: small hostile landing zones run in random schedules, gold checked against the
DuckDB reference.

Each seed writes a few days of data over a handful of keys, so that the contract's edge cases
meet often: ties on `updated_at` within a day and across days, the same instant written two
ways, deletions and older updates after them, events and tickets re-delivered with other
values and landing days late, CSV and JSON Lines side by side, drifted and missing optional
columns, bad rows of every kind, files that land after their date has run. The job then runs
the dates in a random order in one Spark session, some twice, some also cut short after
bronze or silver (as a crash leaves them), the rest sometimes run as a task of its own. Its
gold must equal, row for row in the columns the contract names and the drifted CRM columns,
`bench/duckdb_reference.py` run once over the dates in order (an independent implementation
of the rules), and its quarantine must hold the same bad rows: source, date, file, reason
and raw values. Each seed prints its schedule, then per table how many rows differ; any
difference makes the run exit 1. The data of each seed stays under `--work` for a closer look.

    python bench/fuzz.py [--seeds 5] [--first-seed 1] [--days 5] [--work .bench/fuzz]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from pyspark.sql import SparkSession  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402

from bench import duckdb_reference  # noqa: E402
from bench.run_bench import export_gold  # noqa: E402
from lakehouse.config import STEPS, Settings  # noqa: E402
from lakehouse.landing import day_folder  # noqa: E402
from lakehouse.run import run_date  # noqa: E402
from lakehouse.session import LOCAL_TEST_CONF, build_session  # noqa: E402
from lakehouse.sources import SOURCES  # noqa: E402
from lakehouse.tables import quarantine_spec  # noqa: E402

# The tests' settings, but with three tasks per shuffle and per file read, so that a pick that
# depends on partitioning shows.
FUZZ_CONF = {
    **LOCAL_TEST_CONF,
    "spark.sql.shuffle.partitions": "3",
    "spark.default.parallelism": "3",
    "spark.sql.files.openCostInBytes": "0",  # a read split into about three, however small
}
START = date(2025, 4, 1)
TIMES = ("08:00", "08:00:00", "09:30", "23:59:59", "00:00")
NAMES = ("Ann", "Bob, Jr.", 'Cy "C" Lee', "Dee", "Eve\nTwo lines", " Flo ")
TIERS = ("bronze", "gold", "")
ORDER_TOTALS = ("10", "10.5", "10.50", "0.00", "99.99", "7.")
ORDER_STATUSES = ("placed", "paid", "shipped")
EVENT_TYPES = ("view", "click", "buy")
TICKET_STATUSES = ("opened", "pending", "closed")
# Per source, values that break a rule.
BAD = {
    "crm_customer_updates": [("customer_id", "x1"), ("updated_at", "2025-13-01 00:00")],
    "order_updates": [("order_total", "-1"), ("order_total", "1.234"), ("status", " ")],
    "app_events": [("event_id", ""), ("event_ts", "yesterday"), ("event_type", "")],
    "ticket_events": [("ticket_id", "9999999999"), ("status", ""), ("ingested_at", "")],
}


def _stamp(rng: random.Random, day: date) -> str:
    sep = rng.choice((" ", "T"))
    return f"{day.isoformat()}{sep}{rng.choice(TIMES)}"


def _row(source: str, rng: random.Random, day: date) -> dict[str, str]:
    back = timedelta(days=rng.choice((0, 0, 0, 1, 3, 45)))
    if source == "crm_customer_updates":
        row = {
            "customer_id": str(rng.randint(1, 5)),
            "full_name": rng.choice(NAMES),
            "email": f"c{rng.randint(1, 2)}@x.io",
            "tier": rng.choice(TIERS),
            "updated_at": _stamp(rng, day - back),
        }
        if rng.random() < 0.25:
            row["is_deleted"] = rng.choice(("true", "TRUE", "false", ""))
        if rng.random() < 0.5:  # drift in any format: a second drifted column, empty or a number
            row["loyalty_id"] = rng.choice(("L1", "L2", "", "7"))
        if rng.random() < 0.1:
            row["phone"] = f"555-{rng.randint(0, 9)}"
        return row
    if source == "order_updates":
        return {
            "order_id": rng.choice(("", " ", "+", "0")) * (rng.random() < 0.1)
            + str(rng.randint(1, 5)),
            "customer_id": str(rng.randint(1, 3)),
            "order_total": rng.choice(ORDER_TOTALS),
            "status": rng.choice(ORDER_STATUSES),
            "updated_at": _stamp(rng, day - back),
        }
    if source == "app_events":
        event_id = rng.randint(1, 12)
        # Mostly one value per id (a re-delivery), sometimes another (first arrival decides).
        variant = random.Random(event_id * 31 + (rng.random() < 0.2))
        return {
            "event_id": str(event_id),
            "customer_id": str(variant.randint(1, 3)),
            "event_type": variant.choice(EVENT_TYPES),
            "event_ts": _stamp(
                variant, START + timedelta(days=variant.choice((-60, *range(-2, 6))))
            ),
        }
    ticket_id = rng.randint(1, 3)
    return {
        "ticket_id": str(ticket_id),
        "customer_id": str(ticket_id),
        "status": rng.choice(TICKET_STATUSES),
        "event_ts": f"{(day - back).isoformat()} {rng.choice(('10:00', '12:30', '12:30:00'))}",
        "ingested_at": f"{day.isoformat()} 13:00",
    }


def _csv_field(value: str, rng: random.Random) -> str:
    """RFC 4180 quoting where a value needs it; an empty value sometimes quoted too (`""`)."""
    if any(c in value for c in ',"\n') or (not value and rng.random() < 0.3):
        return '"' + value.replace('"', '""') + '"'
    return value


def _write_file(
    path: Path, rows: list[dict[str, str]], rng: random.Random, *, short_line: bool = True
) -> None:
    """CSV or JSON Lines; a file holds at most one record per key and ranking time, so no tie
    is left to chance (the contract calls those exact duplicates)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    end = rng.choice(("\n", "\n", "\r\n"))
    bom = "\ufeff" if rng.random() < 0.1 else ""
    if path.suffix == ".jsonl":
        lines = [json.dumps({k: _json_value(k, v, rng) for k, v in r.items()}) for r in rows]
        if rng.random() < 0.3:
            lines.append(rng.choice(("{broken", "[1, 2]", '"text"')))
        path.write_text(bom + end.join(lines) + end, encoding="utf-8", newline="")
        return
    header = list(dict.fromkeys(k for r in rows for k in r))  # first appearance: the same each run
    if "phone" not in header and rng.random() < 0.3:
        header.append("phone")
    lines = [",".join(header)]
    for r in rows:
        values = [r.get(k, f"555-{rng.randint(0, 9)}" if k == "phone" else "") for k in header]
        lines.append(",".join(_csv_field(v, rng) for v in values))
    if short_line and rng.random() < 0.3:
        lines.append("1,too,few")
    path.write_text(bom + end.join(lines) + end, encoding="utf-8", newline="")


def _json_value(column: str, value: str, rng: random.Random) -> object:
    """A key or amount sometimes as a JSON number (whose text is the same), else the string."""
    if column.endswith("_id") and value.isdigit() and str(int(value)) == value:
        return int(value) if rng.random() < 0.5 else value
    if column == "order_total" and rng.random() < 0.5:
        number = float(value) if value.replace(".", "", 1).isdigit() else None
        if number is not None and json.dumps(number) == value:
            return number
    return value


def _identity(source: str, row: dict[str, str]) -> tuple[str, ...]:
    """A record's key and ranking time as the rules read them (`05`, ` 5` and `+5` are 5)."""

    def key(name: str) -> str:
        text = row[name].strip()
        return str(int(text)) if text.lstrip("+-").isdigit() else text

    if source in ("crm_customer_updates", "order_updates"):
        name = "customer_id" if source == "crm_customer_updates" else "order_id"
        return (key(name), row["updated_at"].replace("T", " ")[:16])
    if source == "app_events":
        return (key("event_id"),)
    return (key("ticket_id"), row["event_ts"][:16])


def generate(landing: Path, days: list[date], rng: random.Random) -> None:
    for spec in SOURCES:
        source = spec.name
        for day in days:
            if rng.random() < 0.2:
                continue  # no folder: nothing new that day
            folder = Path(day_folder(str(landing), spec, day))
            for n in range(rng.randint(1, 3)):
                rows: dict[tuple[str, ...], dict[str, str]] = {}
                for _ in range(rng.randint(0, 6)):
                    row = _row(source, rng, day)
                    if rng.random() < 0.1:
                        column, value = rng.choice(BAD[source])
                        row[column] = value
                    rows.setdefault(_identity(source, row), row)
                suffix = rng.choice((".csv", ".jsonl"))
                _write_file(
                    folder / f"part-{n}{suffix}",
                    list(rows.values()) or [_row(source, rng, day)],
                    rng,
                )
            _write_odd_files(folder, source, rng, day)


def _write_odd_files(path: Path, source: str, rng: random.Random, day: date) -> None:
    """Files that hold no data, or whose every row is bad."""
    if rng.random() < 0.2:
        (path / "_SUCCESS").write_text("")
        (path / ".part-0.csv.crc").write_text("junk")
    if rng.random() < 0.2:
        (path / "z-empty.csv").write_text("")
        (path / "z-header-only.csv").write_text(",".join(_row(source, rng, day)) + "\n")
    if rng.random() < 0.15:  # a header lacking a schema column: every row bad, with that reason
        row = _row(source, rng, day)
        del row[rng.choice(list(row)[:1] + [c for c in row if c.endswith(("_at", "_ts"))])]
        _write_file(path / "y-lacking.csv", [row], rng, short_line=False)


def hold_back(landing: Path, held: Path, rng: random.Random) -> set[date]:
    """Move some data files out of the landing zone, to land after their date has run."""
    days: set[date] = set()
    for path in sorted(landing.glob("*/ingest_date=*/part-*")):
        if rng.random() < 0.1:
            target = held / path.relative_to(landing)
            target.parent.mkdir(parents=True, exist_ok=True)
            path.rename(target)
            days.add(date.fromisoformat(path.parent.name.removeprefix("ingest_date=")))
    return days


LANDS = ()  # a schedule's step list that stands for "the held-back files of the date land"


def schedule(
    days: list[date], late: set[date], rng: random.Random
) -> list[tuple[date, tuple[str, ...]]]:
    """Every date run whole at least once, some twice, some also cut short after bronze or
    silver (as a crash leaves them) with the rest sometimes run as a task of its own, in a
    random order. A date with held-back files has them land after one of its runs, and is run
    whole again later."""
    runs = [(d, STEPS) for d in days] + [(d, STEPS) for d in days if rng.random() < 0.3]
    for day in days:
        if rng.random() < 0.3:  # cut short, and sometimes the rest run as a task of its own
            cut = rng.randint(1, 2)
            runs.append((day, STEPS[:cut]))
            if rng.random() < 0.5:
                runs.append((day, STEPS[cut:]))
    rng.shuffle(runs)
    for day in sorted(late):
        after = rng.choice([i for i, (d, _) in enumerate(runs) if d == day]) + 1
        runs.insert(after, (day, LANDS))
        runs.insert(rng.randint(after + 1, len(runs)), (day, STEPS))
    return runs


def _line_level(reason: str) -> bool:
    return reason.startswith("record:")


def _raw(reason: str, line: object, columns: dict[str, object]) -> tuple[object, ...]:
    """A bad row's raw values as the comparison sees them: the line, for a line that could not
    be read as a record, else every column that holds a value (drifted ones included; every
    `_` name is the job's or the reference's own)."""
    if _line_level(reason):
        return ("_raw_record", line)
    return tuple(
        sorted((c, v) for c, v in columns.items() if not c.startswith("_") and v is not None)
    )


def _columns_of(reason: str, record: str) -> dict[str, object]:
    return {} if _line_level(reason) else json.loads(record)


def differences(
    spark: SparkSession, warehouse: Path, landing: Path, days: list[date], work: Path
) -> dict[str, int]:
    export_gold(spark, str(warehouse), work / "spark_gold")
    con, _ = duckdb_reference.run_days(work / "reference.duckdb", landing, days)
    diffs = duckdb_reference.compare_gold(con, work / "spark_gold")
    # Quarantine: every bad row once, with its date, file, reason and raw values (the line as
    # it came for a line that could not be read as a record, else its columns as text).
    # The reference's CSV reader drops a line with the wrong field count; the job keeps it.
    ours = [
        (
            s.name,
            r["_ingest_date"],
            r["_source_file"],
            r["_reason"],
            _raw(r["_reason"], r["_raw_record"], r.asDict()),
        )
        for s in SOURCES
        for r in spark.read.format("delta")
        .load(quarantine_spec(s).path(str(warehouse)))
        .where(F.col("_reason") != "record: wrong number of fields")
        .collect()
    ]
    # The reference keeps a bad row's raw values as one text: the line, or a JSON object of
    # its values by column.
    theirs = [
        (name, day, file, reason, _raw(reason, record, _columns_of(reason, record)))
        for name, day, file, record, reason in con.sql(
            "SELECT source, _ingest_date, _source_file, _raw_record, _reason FROM quarantine"
        ).fetchall()
    ]
    ours_, theirs_ = Counter(ours), Counter(theirs)
    diffs["quarantine"] = sum(((ours_ - theirs_) + (theirs_ - ours_)).values())
    con.close()
    return {t: n for t, n in diffs.items() if n}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--work", type=Path, default=ROOT / ".bench" / "fuzz")
    args = parser.parse_args(argv)
    days = [START + timedelta(days=i) for i in range(args.days)]
    spark = build_session("lakehouse-fuzz", FUZZ_CONF, master="local[2]")
    failed = 0
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        work = args.work / f"seed{seed}"
        shutil.rmtree(work, ignore_errors=True)
        landing, warehouse = work / "landing", work / "warehouse"
        rng = random.Random(seed)
        generate(landing, days, rng)
        late = hold_back(landing, work / "held", rng)
        runs = schedule(days, late, rng)
        settings = Settings(landing=str(landing), warehouse=str(warehouse))
        listed = [(d.isoformat(), *(s or ["files land"])) for d, s in runs]
        print(f"seed {seed}: schedule {listed}", flush=True)
        for day, steps in runs:
            if steps == LANDS:
                for path in (work / "held").glob(f"*/ingest_date={day.isoformat()}/*"):
                    path.rename(landing / path.relative_to(work / "held"))
            else:
                run_date(spark, settings, day, steps=steps)
        diffs = differences(spark, warehouse, landing, days, work)
        verdict = "same as the reference" if not diffs else f"rows differing per table: {diffs}"
        print(f"seed {seed}: {verdict}", flush=True)
        failed += bool(diffs)
    spark.stop()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
