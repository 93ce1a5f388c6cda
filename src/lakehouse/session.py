"""The one place a SparkSession is built."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from importlib.metadata import version

from pyspark.sql import SparkSession

SCALA_BINARY = "2.13"

# What every session needs, wherever it runs: Delta's SQL extensions and catalog, and
# timestamps read as naive UTC wall-clock times on every machine.
DELTA_CONF: dict[str, str] = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
}
BASE_CONF: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.ui.showConsoleProgress": "false",
}

# Settings that keep local Spark quick on small data (as in Delta's own test base):
# few shuffle partitions, no UI, a small Delta log cache.
LOCAL_TEST_CONF: dict[str, str] = {
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.databricks.delta.snapshotPartitions": "2",
    "spark.databricks.delta.delta.log.cacheSize": "3",
    "spark.sql.sources.parallelPartitionDiscovery.parallelism": "2",
    "spark.databricks.delta.stalenessLimit": "0",
    "spark.sql.adaptive.enabled": "false",  # re-planning per stage costs more than it saves
    # Tiny data: compiling Java for each plan costs more than interpreting it.
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.codegen.factoryMode": "NO_CODEGEN",
    "spark.driver.memory": "2g",
    "spark.driver.extraJavaOptions": "-XX:+UseParallelGC -Xss4m",
}


def delta_packages() -> str:
    """Maven coordinate of the Delta jars matching the installed pyspark and delta-spark."""
    spark_minor = ".".join(version("pyspark").split(".")[:2])
    return f"io.delta:delta-spark_{spark_minor}_{SCALA_BINARY}:{version('delta-spark')}"


def _launched_by_spark_submit() -> bool:
    """spark-submit (and Databricks) start the JVM first and hand PySpark its port."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


def build_session(
    app_name: str,
    spark_conf: Mapping[str, str] | None = None,
    *,
    master: str | None = None,
) -> SparkSession:
    """Build (or join) the session with Delta configured.

    Under spark-submit the submitter supplies the Delta jars (scripts/spark-submit.sh, or a
    cluster that has Delta). In a plain Python process (tests, notebooks) we launch the JVM
    ourselves and ask Spark's resolver for the matching Delta package.
    """
    builder = SparkSession.builder.appName(app_name)
    if master:
        builder = builder.master(master)
    conf = {**DELTA_CONF, **BASE_CONF, **(spark_conf or {})}
    if not _launched_by_spark_submit():
        conf.setdefault("spark.jars.packages", delta_packages())
    for key, value in conf.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel(conf.get("lakehouse.spark_log_level", "WARN"))
    return session


def main(argv: list[str]) -> int:
    """`python -m lakehouse.session --packages` prints the coordinate for spark-submit.sh;
    `--warm` starts a session once so the jars are resolved during `make install`."""
    if argv == ["--packages"]:
        print(delta_packages())
        return 0
    if argv == ["--warm"]:
        spark = build_session("lakehouse-warm", LOCAL_TEST_CONF, master="local[1]")
        spark.range(1).collect()
        spark.stop()
        print(f"Delta jars ready: {delta_packages()}")
        return 0
    print("usage: python -m lakehouse.session --packages | --warm", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
