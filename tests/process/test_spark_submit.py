"""The real entry point through scripts/spark-submit.sh: a whole process killed at a random
moment with SIGKILL (the whole process tree), then the date run again to completion."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import time
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from chispa import assert_df_equality
from pyspark.sql import SparkSession

from lakehouse.tables import FACT_ORDER_CURRENT
from tests.helpers import assert_same_tables, read, run_all
from tests.paths import ROOT, SAMPLE_LANDING

DAY = date(2025, 3, 2)


def _submit(warehouse: Path) -> list[str]:
    return [
        str(ROOT / "scripts" / "spark-submit.sh"),
        "--driver-memory",
        "1g",
        str(ROOT / "jobs" / "daily.py"),
        "--run-date",
        DAY.isoformat(),
        "--landing",
        str(SAMPLE_LANDING),
        "--warehouse",
        str(warehouse),
    ]


def _kill_at_random(warehouse: Path, rng: random.Random) -> str:
    """Start a run and SIGKILL its whole process group at a random moment: a random delay
    after a random one of its first step lines (bronze of each source, then silver and gold
    of the first three), so a kill may land in the middle of a write. Returns where it hit."""
    after_line, delay = rng.randint(1, 10), rng.uniform(0.0, 1.0)
    proc = subprocess.Popen(
        _submit(warehouse),
        stdout=subprocess.PIPE,  # spark-submit relays the driver's stderr (our log) here
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    seen: list[str] = []
    steps = 0
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            seen.append(line)
            if STEP_LINE.search(line):
                steps += 1
                if steps == after_line:
                    time.sleep(delay)
                    os.killpg(proc.pid, signal.SIGKILL)
                    break
        proc.wait(timeout=600)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == -signal.SIGKILL, "".join(seen)[-3000:]
    return f"{delay:.2f}s after step line {after_line}: {seen[-1].strip()}"


STEP_LINE = re.compile(r"lakehouse\.run: (bronze|silver|gold) ")


def test_killed_run_is_completed_by_the_next_one(spark: SparkSession, tmp_path: Path) -> None:
    warehouse = tmp_path / "wh"
    seed = int(os.environ.get("LAKEHOUSE_KILL_SEED", random.randrange(1_000_000)))
    where = _kill_at_random(warehouse, random.Random(seed))
    print(f"killed {where} (LAKEHOUSE_KILL_SEED={seed} repeats it)")
    # The rerun goes through the shared session (a second JVM start buys nothing here): the
    # same run_date the entry point calls, on what the killed process left on disk.
    run_all(spark, SAMPLE_LANDING, warehouse, [DAY])

    expected = spark.createDataFrame(
        [
            (
                9001,
                101,
                Decimal("45.00"),
                "shipped",
                datetime(2025, 3, 2, 18, 40),
                date(2025, 3, 2),
            ),
            (9002, 102, Decimal("80.00"), "placed", datetime(2025, 3, 2, 9, 20), date(2025, 3, 2)),
        ],
        FACT_ORDER_CURRENT.schema,
    )
    assert_df_equality(read(spark, FACT_ORDER_CURRENT, warehouse), expected, ignore_row_order=True)
    clean = tmp_path / "clean"
    # One source after another here, all four at once in the killed run and its rerun: the
    # same tables.
    run_all(spark, SAMPLE_LANDING, clean, [DAY], source_threads=1)
    assert_same_tables(spark, clean, warehouse)
