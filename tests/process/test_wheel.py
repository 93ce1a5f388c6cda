"""The wheel: `python -m build` makes it, it installs into a fresh virtual environment, and
its `lakehouse-daily` console script runs the sample's first date: the run log and
`dim_customer_current` as expected (the date holds CRM updates only).

The fresh environment gets the wheel alone (`pip install --no-deps`); its dependencies
(pyspark, delta-spark, PyYAML) are made visible from the project's .venv by a .pth file
rather than downloaded again. A .pth line only adds a path: the .venv's own .pth files (the
editable install of src/) are not read, and the test checks that `lakehouse` is imported
from the wheel's copy.

Cost: one JVM start and the sample's first date in it, cold.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import sysconfig
import zipfile
from datetime import datetime
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession

from lakehouse import ops
from lakehouse.cli import daily_entry
from lakehouse.sources import CRM, SOURCES
from lakehouse.tables import DIM_CUSTOMER_CURRENT, RUN_LOG
from tests.helpers import assert_gold, one_run_conf, read, run_process
from tests.paths import ROOT, SAMPLE_DATES, SAMPLE_LANDING

DAY = SAMPLE_DATES[0]


def _build_wheel(dist: Path) -> Path:
    run_process([sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(ROOT)])
    (wheel,) = dist.glob("lakehouse-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        info = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        entry_points = zf.read(info).decode()
        metadata = zf.read(info.replace("entry_points.txt", "METADATA")).decode()
    assert {
        *("lakehouse/cli.py", "lakehouse/run.py", "lakehouse/session.py"),
        "lakehouse/log4j2.properties",  # the logging of a JVM the entry point starts
    } <= names
    assert "lakehouse-daily = lakehouse.cli:daily_entry" in entry_points.splitlines()
    # Spark comes from the platform or the `spark` extra, never forced onto a cluster.
    assert 'Requires-Dist: pyspark[connect]==4.2.0; extra == "spark"' in metadata.splitlines()
    assert 'Requires-Dist: pyspark-client==4.2.0; extra == "client"' in metadata.splitlines()
    return wheel


def _fresh_venv_with(wheel: Path, venv: Path) -> Path:
    """A new virtual environment holding the wheel alone, the .venv's packages visible."""
    run_process([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    run_process(
        [
            *(sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet"),
            *("--no-deps", "--no-index", str(wheel)),
        ]
    )
    purelib = "import sysconfig; print(sysconfig.get_path('purelib'))"
    site = Path(run_process([str(python), "-c", purelib]).stdout.strip())
    (site / "_project_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    where = json.loads(
        run_process(
            [
                str(python),
                "-c",
                "import json, sys, lakehouse.cli, pyspark; "
                "print(json.dumps([lakehouse.cli.__file__, pyspark.__file__, sys.path]))",
            ],
            cwd=venv,
        ).stdout
    )
    assert Path(where[0]).is_relative_to(site), where[0]  # the wheel's code, not src/
    assert Path(where[1]).is_relative_to(sysconfig.get_path("purelib"))  # Spark from .venv
    assert str(ROOT / "src") not in where[2]
    return python


def test_wheel_installs_and_its_entry_point_runs_the_sample(
    spark: SparkSession, tmp_path: Path
) -> None:
    wheel = _build_wheel(tmp_path / "dist")
    python = _fresh_venv_with(wheel, tmp_path / "venv")
    script = python.parent / "lakehouse-daily"
    assert script.read_text().splitlines()[0] == f"#!{python}"

    warehouse = tmp_path / "wh"
    # The entry point starts its own JVM (no spark-submit): build_session adds the Delta
    # package itself. The config holds the suite's settings for tiny data; its paths are
    # overridden on the command line, as a scheduler passes them.
    config = tmp_path / "wheel.yaml"
    spark_conf = {
        **one_run_conf(tmp_path / "derby"),
        "spark.sql.warehouse.dir": str(tmp_path / "spark-warehouse"),
    }
    config.write_text(json.dumps({"landing": "-", "warehouse": "-", "spark_conf": spark_conf}))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYSPARK_GATEWAY_PORT")}
    env["PYSPARK_PYTHON"] = str(python)
    # The sample's first date: the CRM's first two customers (the worked example's dates are
    # the in-session tests' business; this is about the wheel and its entry point).
    run_process(
        [
            *(str(script), "--run-date", DAY.isoformat(), "--config", str(config)),
            *("--landing", str(SAMPLE_LANDING), "--warehouse", str(warehouse)),
        ],
        cwd=tmp_path,
        env=env,
        timeout=600,
    )

    log = read(spark, RUN_LOG, warehouse).select("run_date", "source", "status")
    expected_log = [(DAY, s.name, "succeeded" if s is CRM else "no_data") for s in SOURCES]
    assert_df_equality(log, spark.createDataFrame(expected_log, log.schema), ignore_row_order=True)
    customers = [
        (101, "Ava Patel", "ava@ex.com", "bronze", datetime(2025, 3, 1, 9, 10), DAY),
        (102, "Ben Ruiz", "ben@ex.com", "silver", datetime(2025, 3, 1, 10, 0), DAY),
    ]
    assert_gold(spark, warehouse, DIM_CUSTOMER_CURRENT, customers)


def test_the_entry_point_joins_a_running_session_and_leaves_it_running(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Databricks wheel task calls `daily_entry` in a process whose session the platform
    started: the run uses that session, and stopping it is the platform's business."""
    (tmp_path / "landing").mkdir()
    config = tmp_path / "job.yaml"
    config.write_text(json.dumps({"landing": "landing", "warehouse": "wh"}))
    day = SAMPLE_DATES[0]
    monkeypatch.setattr(
        sys, "argv", ["lakehouse-daily", "--run-date", day.isoformat(), "--config", str(config)]
    )
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        daily_entry()  # an exit status other than 0 would raise SystemExit
    finally:  # the entry point configures logging for its process: give the suite its own back
        root.handlers[:], root.level = handlers, level

    assert spark.range(3).count() == 3  # still running
    attempts = read(spark, RUN_LOG, tmp_path / "wh").select("run_date", "source", "status")
    expected = spark.createDataFrame(
        [(day, s.name, ops.NO_DATA) for s in SOURCES], "run_date date, source string, status string"
    )
    assert_df_equality(attempts, expected, ignore_row_order=True, ignore_nullable=True)
