"""The opt-in OpenLineage switch: the Spark conf it produces, and nothing when it is off.
Pure functions of the config: no Spark session is started here."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakehouse.config import load_settings
from lakehouse.errors import ConfigError
from lakehouse.lineage import OPENLINEAGE_LISTENER, OpenLineage, merge_conf, openlineage_conf
from lakehouse.session import BASE_CONF, DELTA_CONF, delta_packages, session_conf, submit_packages
from tests.helpers import write_config
from tests.paths import ROOT

PACKAGE = "io.openlineage:openlineage-spark_2.13:1.53.0"


def _config(tmp_path: Path, lineage: str) -> Path:
    return write_config(
        tmp_path,
        "landing: /l\nwarehouse: /w\nspark_conf:\n  spark.sql.shuffle.partitions: 4\n" + lineage,
    )


@pytest.mark.parametrize("name", ["local.yaml", "prod.yaml", "prod-azure.yaml"])
def test_off_by_default_adds_nothing(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LAKEHOUSE_LINEAGE", raising=False)
    monkeypatch.setenv("LAKEHOUSE_STORAGE_ACCOUNT", "acct")
    settings = load_settings(ROOT / "conf" / name)
    assert not settings.lineage.enabled
    assert openlineage_conf(settings.lineage) == {}
    assert not any("openlineage" in k or "Listeners" in k for k in settings.spark_conf)
    assert "spark.jars.packages" not in settings.spark_conf
    # The session gets Delta and the config's own settings, nothing more.
    assert session_conf(settings.spark_conf, launch_jvm=True) == {
        **DELTA_CONF,
        **BASE_CONF,
        **settings.spark_conf,
        "spark.jars.packages": delta_packages(),
    }
    assert submit_packages(str(ROOT / "conf" / name)) == delta_packages()


def test_enabled_with_a_url_reports_over_http(tmp_path: Path) -> None:
    config = _config(
        tmp_path,
        "lineage:\n  openlineage:\n    enabled: true\n    url: http://marquez:5000\n"
        "    namespace: retail\n",
    )
    settings = load_settings(config)
    assert dict(settings.spark_conf) == {
        "spark.sql.shuffle.partitions": "4",
        "spark.jars.packages": PACKAGE,
        "spark.extraListeners": "io.openlineage.spark.agent.OpenLineageSparkListener",
        "spark.openlineage.namespace": "retail",
        "spark.openlineage.transport.type": "http",
        "spark.openlineage.transport.url": "http://marquez:5000",
        "spark.openlineage.transport.endpoint": "api/v1/lineage",
    }
    # A process that launches its own JVM resolves Delta and the listener in one list;
    # under spark-submit, scripts/spark-submit.sh passes the same list to --packages.
    conf = session_conf(settings.spark_conf, launch_jvm=True)
    assert conf["spark.jars.packages"] == f"{delta_packages()},{PACKAGE}"
    assert conf["spark.extraListeners"] == OPENLINEAGE_LISTENER
    assert session_conf(settings.spark_conf, launch_jvm=False)["spark.jars.packages"] == PACKAGE
    assert submit_packages(str(config)) == f"{delta_packages()},{PACKAGE}"


def test_enabled_without_a_url_logs_events_and_the_env_can_switch_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(
        tmp_path,
        "lineage:\n  openlineage:\n    enabled: ${LH_LINEAGE:-false}\n    version: 1.40.0\n",
    )
    monkeypatch.delenv("LH_LINEAGE", raising=False)
    assert dict(load_settings(config).spark_conf) == {"spark.sql.shuffle.partitions": "4"}
    monkeypatch.setenv("LH_LINEAGE", "TRUE")
    conf = dict(load_settings(config).spark_conf)
    assert conf["spark.openlineage.transport.type"] == "console"
    assert conf["spark.jars.packages"] == "io.openlineage:openlineage-spark_2.13:1.40.0"
    assert conf["spark.openlineage.namespace"] == "lakehouse"
    assert "spark.openlineage.transport.url" not in conf


def test_lists_the_user_set_are_extended_not_replaced() -> None:
    user = {
        "spark.jars.packages": "org.apache.hadoop:hadoop-aws:3.4.1",
        "spark.extraListeners": "com.example.Metrics",
        "spark.openlineage.namespace": "mine",
    }
    merged = merge_conf(user, openlineage_conf(OpenLineage(enabled=True)))
    assert merged["spark.jars.packages"] == f"org.apache.hadoop:hadoop-aws:3.4.1,{PACKAGE}"
    assert merged["spark.extraListeners"] == f"com.example.Metrics,{OPENLINEAGE_LISTENER}"
    assert merged["spark.openlineage.namespace"] == "mine"  # what the user wrote wins
    assert merge_conf(merged, {"spark.jars.packages": PACKAGE}) == merged  # each entry once


@pytest.mark.parametrize(
    ("lineage", "message"),
    [
        ("lineage:\n  marquez: {}\n", "unknown key lineage.marquez"),
        ("lineage:\n  openlineage: [1]\n", "lineage.openlineage must be a mapping"),
        ("lineage:\n  openlineage:\n    enabled: yes please\n", "enabled must be a bool"),
        ("lineage:\n  openlineage:\n    url: 5\n", "url must be a str, got int"),
        ("lineage:\n  openlineage:\n    uri: x\n", "unknown key lineage.openlineage.uri"),
        ("lineage: true\n", "key 'lineage' must be a dict"),
    ],
)
def test_bad_lineage_config_is_a_config_error(tmp_path: Path, lineage: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(_config(tmp_path, lineage))
