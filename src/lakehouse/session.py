"""The one place a SparkSession is built."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path
from urllib.parse import urlsplit

from pyspark.sql import SparkSession

from lakehouse import conditions
from lakehouse.config import PINNED_SPARK_CONF
from lakehouse.errors import ConfigError, NoSessionError, first_line
from lakehouse.lineage import SCALA_BINARY, merge_conf

# Where a Spark Connect URL without a port points (Spark Connect's own default).
CONNECT_PORT = 15002

# What every session needs, wherever it runs: Delta's SQL extensions and catalog, and
# timestamps read as naive UTC wall-clock times on every machine.
DELTA_CONF: dict[str, str] = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
}
BASE_CONF: dict[str, str] = {
    **PINNED_SPARK_CONF,
    "spark.ui.showConsoleProgress": "false",
    # A MERGE's plan has more fields than Spark's default of 25, and each run logged a warning
    # that its string form was cut.
    "spark.sql.debug.maxToStringFields": "200",
    # Spark's own INFO lines would bury the job's one line per step.
    "spark.log.level": "WARN",
}

# The JVM of a local run (scripts/spark-submit.sh, tests, the benchmark): one JVM does all
# the work, and a serial collector leaves both cores to it.
LOCAL_JVM_OPTIONS = "-XX:+UseSerialGC"
# A spark-submit in local mode is one short process (a date, or a few): the quick first
# compiler only, whose code is ready long before the optimising one's would pay back (a cold
# sample date: about a sixth less time).
SHORT_RUN_JVM_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=256m"
# Spark's and Delta's classes as a cold run loads them, archived once by `make install`
# (`LAKEHOUSE_CDS_DUMP`): a JVM maps them instead of loading and verifying each again. An
# archive made for other jars or another JVM is ignored by the JVM, silently.
CLASS_ARCHIVE = Path(sys.prefix) / "lakehouse-classes.jsa"
_QUIET_CDS = "-Xlog:cds=off -Xlog:cds+dynamic=off"
# Spark's own logging for every driver JVM this project starts (scripts/spark-submit.sh, or
# this process launching it): warnings and errors only, without the ones every run would
# print on purpose. Shipped in the package, so an installed wheel has it too.
LOG_CONFIG = Path(__file__).with_name("log4j2.properties")
LOG_CONFIG_OPTION = f"-Dlog4j2.configurationFile={LOG_CONFIG.as_uri()}"
LOG_CONFIG_ENV = "LOG4J_CONFIGURATION_FILE"


def short_run_jvm_options(archive: Path = CLASS_ARCHIVE) -> str:
    """The driver JVM's options for one local spark-submit; with `LAKEHOUSE_CDS_DUMP` set,
    the run archives its classes there as it exits."""
    options = f"{LOCAL_JVM_OPTIONS} {SHORT_RUN_JVM_OPTIONS}"
    dump = os.environ.get("LAKEHOUSE_CDS_DUMP")
    if dump:
        return f"{options} -XX:ArchiveClassesAtExit={dump} {_QUIET_CDS}"
    if archive.is_file():
        return f"{options} -XX:SharedArchiveFile={archive} {_QUIET_CDS}"
    return options


# Settings that keep local Spark quick on small data: few shuffle partitions, no UI.
LOCAL_TEST_CONF: dict[str, str] = {
    # A test's data is a few rows: one task per shuffle, as in conf/local.yaml (on the sample's
    # dates half the tasks of four partitions, and less CPU: docs/benchmark.md).
    "spark.sql.shuffle.partitions": "1",
    "spark.default.parallelism": "2",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    # Replaying a tiny Delta log: one partition (measured on the sample's four dates: about
    # 7 % less time than two; the data's own shuffles keep two partitions).
    "spark.databricks.delta.snapshotPartitions": "1",
    # A run touches some twenty tables from four threads: a log cache smaller than that (Delta's
    # own test base uses 3) reloads a table's log on almost every access. Measured on the
    # sample's four dates, cold: 61 s with 200 against 73 s with 3.
    "spark.databricks.delta.delta.log.cacheSize": "200",
    "spark.sql.sources.parallelPartitionDiscovery.parallelism": "2",
    "spark.databricks.delta.stalenessLimit": "0",
    "spark.sql.adaptive.enabled": "false",  # re-planning per stage costs more than it saves
    # Tiny data: compiling Java for each plan costs more than interpreting it.
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.codegen.factoryMode": "NO_CODEGEN",
    "spark.driver.memory": "2g",
    # One JVM does everything on two cores: a serial collector leaves both to the work (the
    # sample's dates: about 15 % less CPU than the parallel one).
    "spark.driver.extraJavaOptions": f"{LOCAL_JVM_OPTIONS} -Xss4m",
}


# Where `make install` records the Delta jars it resolved for this environment: the package
# coordinate on the first line, the jar files (comma separated) on the second.
JARS_FILE = Path(sys.prefix) / "delta-jars.txt"


def installed_jars(jars_file: Path = JARS_FILE) -> list[str] | None:
    """The Delta jars resolved once at install, or None: then Spark's resolver (Ivy) fetches
    them at every JVM start, which costs 3-12 s here. A record of another Delta version, or
    naming a jar no longer on disk, does not count."""
    try:
        coordinate, _, listed = jars_file.read_text(encoding="utf-8").partition("\n")
    except OSError:
        return None
    jars = [j for j in listed.strip().split(",") if j]
    if coordinate.strip() != delta_packages() or not jars:
        return None
    if not all(Path(j.removeprefix("file://")).is_file() for j in jars):
        return None
    return jars


def record_jars(jars: str, jars_file: Path = JARS_FILE) -> None:
    jars_file.write_text(f"{delta_packages()}\n{jars}\n", encoding="utf-8")


def delta_packages() -> str:
    """Maven coordinate of the Delta jars matching the installed pyspark and delta-spark."""
    spark_minor = ".".join(version("pyspark").split(".")[:2])
    return f"io.delta:delta-spark_{spark_minor}_{SCALA_BINARY}:{version('delta-spark')}"


def _launched_by_spark_submit() -> bool:
    """spark-submit (and Databricks) start the JVM first and hand PySpark its port."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


def session_running() -> bool:
    """A session already runs in this process (a notebook, a platform's job runner, a
    Databricks serverless task): the platform's, in classic Spark or over Spark Connect."""
    return SparkSession.getActiveSession() is not None


def session_conf(
    spark_conf: Mapping[str, str] | None, *, launch_jvm: bool, jars: list[str] | None = None
) -> dict[str, str]:
    """Every setting the session is built with.

    When this process launches the JVM itself, it adds the Delta jars resolved at install
    (`jars`), or else has Spark's resolver fetch the Delta package; any package the config
    asks for (`spark.jars.packages`, e.g. the OpenLineage listener) is resolved as given.
    Otherwise the JVM runs already: the jars are the submitter's business
    (scripts/spark-submit.sh, a cluster library), and are left alone here.
    """
    conf = {**DELTA_CONF, **BASE_CONF, **(spark_conf or {})}
    if launch_jvm and jars:
        conf = merge_conf({"spark.jars": ",".join(jars)}, conf)
    elif launch_jvm:
        conf = merge_conf({"spark.jars.packages": delta_packages()}, conf)
    return conf


def log_config_env(environ: Mapping[str, str]) -> dict[str, str]:
    """What the environment of a JVM this process launches needs for the project's logging
    (`LOG_CONFIG`): nothing when it names a logging file already, or when Spark's conf folder
    holds one. An environment variable, not a JVM option: a `-Dlog4j...` option the config or
    spark-defaults.conf gives the driver wins over it, and their other options stay."""
    if LOG_CONFIG_ENV in environ or not LOG_CONFIG.is_file():
        return {}
    conf_dir = environ.get("SPARK_CONF_DIR")
    if conf_dir and (Path(conf_dir) / "log4j2.properties").is_file():
        return {}
    return {LOG_CONFIG_ENV: LOG_CONFIG.as_uri()}


# Settings a session takes while it runs: Spark's SQL settings and Delta's (both per session,
# such as maintenance's file size); the rest configure a JVM as it starts.
_SESSION_SETTINGS = ("spark.sql.", "spark.databricks.delta.")


def runtime_conf(conf: Mapping[str, str]) -> dict[str, str]:
    """The part of a config a running session can take: what a Spark Connect client sets on
    its session, and what the benchmark sets for one block of work."""
    return {k: v for k, v in conf.items() if k.startswith(_SESSION_SETTINGS)}


def build_session(
    app_name: str,
    spark_conf: Mapping[str, str] | None = None,
    *,
    master: str | None = None,
    remote: str | None = None,
) -> SparkSession:
    """Build (or join) the session with Delta configured.

    Over Spark Connect (`remote`, or $SPARK_REMOTE) the server has Delta: only the session
    settings reach it (`runtime_conf`). Under
    spark-submit the submitter supplies the Delta jars (scripts/spark-submit.sh, or a cluster
    that has Delta). In a plain Python process (tests, notebooks) we launch the JVM ourselves
    with the Delta jars resolved at install, and the project's logging.
    """
    remote = remote or os.environ.get("SPARK_REMOTE")
    if remote:
        logging.getLogger("lakehouse").info(
            "connecting to the Spark Connect server at %s (one that does not answer is "
            "retried for ten minutes or more, as Spark Connect retries)",
            connect_endpoint(remote),
        )
        builder = SparkSession.builder.remote(remote).appName(app_name)
        for key, value in runtime_conf({**BASE_CONF, **(spark_conf or {})}).items():
            builder = builder.config(key, value)
        return builder.getOrCreate()
    builder = SparkSession.builder.appName(app_name)
    if master:
        builder = builder.master(master)
    launch_jvm = not (_launched_by_spark_submit() or session_running())
    conf = session_conf(spark_conf, launch_jvm=launch_jvm, jars=installed_jars())
    if launch_jvm:  # the JVM PySpark is about to start inherits this process's environment
        os.environ.update(log_config_env(os.environ))
    for key, value in conf.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def connect_endpoint(remote: str) -> str:
    """`host:port` of a Spark Connect URL, for the log: its parameters (a token) stay out."""
    parts = urlsplit("//" + remote.removeprefix("sc://"))
    host = parts.hostname or ""
    try:
        port = parts.port or CONNECT_PORT
    except ValueError:  # not a number: the client will say so
        return parts.netloc
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _stop(session: SparkSession | None, *, tell_the_server: bool) -> None:
    """Stop a session that failed to start. PySpark keeps a Connect session it could not
    open as the active one, and at exit would release it on the server and clear the server's
    caches, each call with the full retries: twenty minutes more for a server that never
    answered. Such a session is closed without a word to the server."""
    if session is None:
        return
    if not tell_the_server:
        session.release_session_on_close = False  # type: ignore[attr-defined]  # Connect's
    session.stop()


def _why_no_session(exc: Exception, remote: str | None, status: str | None) -> str:
    if remote and status is not None:
        unanswered = " (nothing answered there, after Spark Connect's retries)"
        return (
            f"no session from the Spark Connect server at {connect_endpoint(remote)}: "
            f"gRPC {status}{unanswered if status == 'UNAVAILABLE' else ''}"
        )
    return f"Spark did not start: {first_line(exc)}"


@contextmanager
def job_session(
    app_name: str, spark_conf: Mapping[str, str] | None = None, *, remote: str | None = None
) -> Iterator[SparkSession]:
    """The session of a job's entry point, stopped at the end only if this process started
    it: a session a platform handed over (a notebook, a Databricks wheel task) is the
    platform's to stop."""
    started_here = not session_running()
    remote = remote or os.environ.get("SPARK_REMOTE")
    spark = None
    try:
        spark = build_session(app_name, spark_conf, remote=remote)
        # The session's settings take effect when its state is first built: here, so that a
        # value Spark refuses is a bad config (exit 2), not a failed run.
        spark.conf.get("spark.sql.session.timeZone")
    except Exception as exc:
        problem = conditions.invalid_setting(exc)
        status = conditions.connect_status(exc) if remote else None
        if started_here:
            _stop(spark or SparkSession.getActiveSession(), tell_the_server=status is None)
        if problem is None:
            raise NoSessionError(_why_no_session(exc, remote, status)) from exc
        raise ConfigError(f"spark_conf: {problem}") from None
    try:
        yield spark
    finally:
        if started_here:
            spark.stop()


@contextmanager
def runtime_settings(spark: SparkSession, settings: Mapping[str, str]) -> Iterator[None]:
    """Runtime SQL settings for one block of work (a benchmark's part, a test), each put back
    as it was afterwards, since the session outlives the block."""
    saved = {key: spark.conf.get(key, None) for key in settings}
    try:
        for key, value in settings.items():
            spark.conf.set(key, value)
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, old)


def submit_packages(config: str | None, *, with_delta: bool = True) -> str:
    """What spark-submit's `--packages` needs: Delta's package (unless its jars were resolved
    at install) and those the config asks for (the OpenLineage listener when lineage is on).
    A config that does not load adds nothing here: the job itself then reports it (exit 2),
    with the same message."""
    packages = {"spark.jars.packages": delta_packages()} if with_delta else {}
    from lakehouse.config import load_settings
    from lakehouse.errors import UsageError

    try:  # only the packages matter here: the paths (and their variables) are the job's
        settings = load_settings(
            Path(config) if config else None, landing="unused", warehouse="unused"
        )
    except UsageError:
        return packages.get("spark.jars.packages", "")
    wanted = settings.spark_conf.get("spark.jars.packages", "")
    return merge_conf(packages, {"spark.jars.packages": wanted} if wanted else {}).get(
        "spark.jars.packages", ""
    )


def main(argv: list[str]) -> int:
    """`python -m lakehouse.session --packages [--config F]` prints the coordinates for
    spark-submit.sh; `--submit-args JARS_FILE [--config F]` prints the jars resolved at
    install (first line, empty if none), the packages still to resolve (second line) and the
    driver JVM's options for local mode (third line) and for any master (fourth line);
    `--warm` starts a session once so the jars are resolved, and recorded, during
    `make install`."""
    if argv[:1] == ["--packages"] and len(argv) in (1, 3) and argv[1:2] in ([], ["--config"]):
        print(submit_packages(argv[2] if len(argv) == 3 else None))
        return 0
    if argv[:1] == ["--submit-args"] and len(argv) in (2, 4) and argv[2:3] in ([], ["--config"]):
        jars = installed_jars(Path(argv[1]))
        print(",".join(jars or []))
        print(submit_packages(argv[3] if len(argv) == 4 else None, with_delta=jars is None))
        print(short_run_jvm_options())
        print(LOG_CONFIG_OPTION)
        return 0
    if argv == ["--warm"]:
        conf = session_conf(LOCAL_TEST_CONF, launch_jvm=True)  # resolved by Ivy, once
        builder = SparkSession.builder.appName("lakehouse-warm").master("local[1]")
        for key, value in conf.items():
            builder = builder.config(key, value)
        spark = builder.getOrCreate()
        spark.range(1).collect()
        record_jars(spark.conf.get("spark.jars") or "")
        spark.stop()
        print(f"Delta jars ready: {delta_packages()} (recorded in {JARS_FILE})")
        return 0
    print(
        "usage: python -m lakehouse.session --packages [--config F] | "
        "--submit-args JARS_FILE [--config F] | --warm",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
