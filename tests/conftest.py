"""One SparkSession for the whole test session (per xdist worker), Delta configured and tuned
for tiny data; every test gets its own landing zone and warehouse under tmp_path.

Tests go to the xdist workers a module at a time (`--dist loadfile`). The rule scenario's
in-order warehouse and the sample's are session fixtures: the modules that read one share one
build when they land on the same worker, and build it side by side when they do not.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from lakehouse.config import Settings
from lakehouse.run import run_dates
from lakehouse.session import LOCAL_TEST_CONF, build_session
from tests import scenario
from tests.helpers import SAMPLE_DATES, SAMPLE_LANDING
from tests.scenario import ScenarioRun

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkSession]:
    conf = {
        **LOCAL_TEST_CONF,
        "spark.sql.warehouse.dir": str(tmp_path_factory.mktemp("spark-warehouse")),
        "spark.driver.extraJavaOptions": (
            f"{LOCAL_TEST_CONF['spark.driver.extraJavaOptions']} "
            f"-Dlog4j2.configurationFile=file:{ROOT / 'conf' / 'log4j2.properties'} "
            f"-Dderby.system.home={tmp_path_factory.mktemp('derby')}"
        ),
    }
    session = build_session("lakehouse-tests", conf, master="local[2]")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def scenario_run(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> ScenarioRun:
    """The rule scenario run in order, with a copy after D2: read-only for every test (a test
    that writes works on a copy)."""
    return scenario.run_in_order(spark, tmp_path_factory.mktemp("scenario"))


@pytest.fixture(scope="session")
def sample_warehouse(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample as `make run` runs it (all four dates as one range in one session):
    read-only for every test."""
    warehouse = tmp_path_factory.mktemp("sample") / "wh"
    run_dates(spark, Settings(landing=str(SAMPLE_LANDING), warehouse=str(warehouse)), SAMPLE_DATES)
    return warehouse
