"""One SparkSession for the whole test session (per xdist worker), Delta configured and tuned
for tiny data; every test gets its own landing zone and warehouse under tmp_path.

With `make test`'s `--dist loadgroup`, the tests that read one shared warehouse (a session
fixture: the rule scenario's in-order run, the sample's range) form one xdist group, so the
warehouse is built once; every other module is a group of its own.
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
from tests.paths import SAMPLE_DATES, SAMPLE_LANDING
from tests.scenario import ScenarioRun


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkSession]:
    conf = {
        **LOCAL_TEST_CONF,
        "spark.sql.warehouse.dir": str(tmp_path_factory.mktemp("spark-warehouse")),
        "spark.driver.extraJavaOptions": (
            f"{LOCAL_TEST_CONF['spark.driver.extraJavaOptions']} "
            f"-Dderby.system.home={tmp_path_factory.mktemp('derby')}"
        ),
    }
    session = build_session("lakehouse-tests", conf, master="local[2]")
    yield session
    session.stop()


# Session fixtures holding a warehouse that several modules read.
SHARED_WAREHOUSES = ("scenario_run", "sample_warehouse")


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


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tiers by folder (`-m spark`, `-m process`), and one xdist group per shared warehouse or
    else per module (`--dist loadgroup`): the tests that read one build share one worker, so
    each warehouse is built once, and a module's own fixtures stay on its worker."""
    for item in items:
        tier = item.path.parent.name
        if tier in ("spark", "process"):
            item.add_marker(getattr(pytest.mark, tier))
        shared = [name for name in SHARED_WAREHOUSES if name in getattr(item, "fixturenames", ())]
        item.add_marker(pytest.mark.xdist_group(shared[0] if shared else item.path.stem))


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A worker of `--dist loadgroup` knows a test's group by the suffix xdist gives its node
    id. Without it xdist spreads a group over the workers without a word, and each worker
    builds the shared warehouses again (pytest-dev/pytest-xdist#1386): fail instead."""
    if getattr(item.config.option, "loadgroup", False) and "@" not in item.nodeid:
        pytest.fail(
            "pytest-xdist did not group this test (--dist loadgroup): this pytest and "
            "pytest-xdist do not work together; install the versions pyproject.toml pins",
            pytrace=False,
        )
