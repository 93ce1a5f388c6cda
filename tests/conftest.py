"""One SparkSession for the whole test session (per xdist worker), Delta configured and tuned
for tiny data; every test gets its own landing zone and warehouse under tmp_path.

Tests are sent to the xdist workers a module at a time (so a module's fixtures are built
once), except that modules sharing a session fixture built from whole runs go to the same
worker together: the rule scenario's three dates are run once for all of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from lakehouse.session import LOCAL_TEST_CONF, build_session
from tests import scenario
from tests.scenario import ScenarioRun

ROOT = Path(__file__).resolve().parents[1]
# Modules that read the `scenario_run` warehouse: one xdist group, so it is built once.
_SHARED_GROUPS = {"test_scenarios": "scenario", "test_recovery": "scenario"}


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups (`--dist loadgroup`)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        module = item.path.stem
        item.add_marker(pytest.mark.xdist_group(_SHARED_GROUPS.get(module, module)))


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
