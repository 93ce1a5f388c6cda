"""Tables by name across sessions, with Spark's own Hive metastore (Derby, in a folder of the
test's warehouse): the job, run by name as its own process, and a second Spark session that
finds every one of its tables by name."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from pathlib import Path

import yaml
from pyspark.sql import SparkSession

from lakehouse.files import folder_key
from lakehouse.session import LOG_CONFIG_ENV
from lakehouse.tables import all_specs
from tests.helpers import assert_same_rows, one_run_conf, read, run_process
from tests.paths import ROOT, SAMPLE_DATES, SAMPLE_LANDING


def _hive_config(tmp_path: Path, warehouse: Path) -> Path:
    """The sample's landing zone under a folder whose name holds glob characters: the job
    reads each file by an escaped path, which Spark must not log as a missing folder."""
    landing = tmp_path / "landing [copy]"
    shutil.copytree(SAMPLE_LANDING, landing)
    metastore = warehouse / "_metastore"
    spark_conf = {
        **one_run_conf(metastore),
        "spark.sql.catalogImplementation": "hive",
        "spark.sql.warehouse.dir": str(metastore / "managed"),
        "spark.hadoop.javax.jdo.option.ConnectionURL": (
            f"jdbc:derby:;databaseName={metastore / 'metastore_db'};create=true"
        ),
    }
    config = tmp_path / "by-name.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "landing": str(landing),
                "warehouse": str(warehouse),
                "catalog": {"schema_prefix": "sample"},
                "spark_conf": spark_conf,
            }
        )
    )
    return config


def _python(*args: str) -> str:
    """Run a script of the project; its output (stdout and stderr). Without this session's
    logging file in its environment: the script's JVM must get it from the job itself."""
    env = {k: v for k, v in os.environ.items() if k != LOG_CONFIG_ENV}
    done = run_process([sys.executable, *args], cwd=ROOT, env=env, timeout=900)
    return done.stdout + done.stderr


# A line Spark or Hive logs at WARN or ERROR (the job's own lines use Python's level names).
_ENGINE_NOISE = re.compile(r"\b(WARN|ERROR)\b")


def test_a_run_by_name_is_found_by_name_from_another_session(
    spark: SparkSession, tmp_path: Path
) -> None:
    """One sample date run by name in a process of its own; a second session finds every
    table by name, at its folder, holding what the folder holds (that a run by name leaves
    the tables a run by path leaves is tests/spark/test_catalog.py's, in-session)."""
    warehouse, out = tmp_path / "wh", tmp_path / "found"
    config = _hive_config(tmp_path, warehouse)
    logged = _python(
        "jobs/daily.py", "--config", str(config), "--run-date", SAMPLE_DATES[1].isoformat()
    )
    # The run's log is the job's story, the JVM started by the job itself as by spark-submit:
    # no engine warnings, not even those a Hive metastore adds for every table it registers.
    assert [line for line in logged.splitlines() if _ENGINE_NOISE.search(line)] == []

    _python("tests/process/dump_by_name.py", str(config), str(out))

    found = json.loads((out / "catalog.json").read_text())
    expected: dict[str, list[str]] = {}
    for spec in all_specs():
        expected.setdefault(f"sample_{spec.layer}", []).append(spec.name)
    assert found["listed"] == {schema: sorted(names) for schema, names in expected.items()}
    assert {k: folder_key(v) for k, v in found["locations"].items()} == {
        s.qualified_name: s.path(str(warehouse)) for s in all_specs()
    }
    for spec in all_specs():
        assert_same_rows(
            spark.read.parquet(str(out / spec.qualified_name)), read(spark, spec, warehouse)
        )
