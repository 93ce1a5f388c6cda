"""`make cluster-test`: the sample on a real Spark standalone cluster, compared with local mode.

Starts one master and two workers (one core, 1 GiB each) on loopback, each in its own JVM,
from the installed pyspark's own launcher (`bin/spark-class`); submits the sample's dates
through `scripts/spark-submit.sh --master spark://127.0.0.1:<port>`, shipping the package
with `--py-files` as a real cluster needs; checks that both workers ran tasks; stops the
cluster whatever happens; then checks every gold table, whole, against the local-mode
result: the sample's expected gold that tests/spark/test_sample.py asserts local mode gives, or
with `--full` (`make cluster-test FULL=1`) a local-mode run of the same dates here, every
table of every layer compared (load metadata and run log aside). Exit 0 when all are equal,
1 otherwise.

Everything (work dirs, executors' scratch space, logs, both warehouses) goes under one temp
dir, removed on success and kept on failure, with the tail of every log printed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]  # the package (installed or not) and tests/

from pyspark.sql import DataFrame, SparkSession  # noqa: E402

from lakehouse.config import Settings  # noqa: E402

FIRST, LAST = date(2025, 3, 1), date(2025, 3, 4)
LANDING = ROOT / "data" / "sample" / "landing"
WORKERS = 2
HOST = "127.0.0.1"
# Columns that say when or by which attempt a row was written, not what it says.
VOLATILE = ("_load_time", "_run_id")
ANSWER = re.compile(r" lakehouse[.:]| ERROR |Traceback|Error:")


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def java_home() -> str:
    out = subprocess.run(
        [str(ROOT / "scripts" / "java-home.sh")], capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def say(message: str) -> None:
    print(f"cluster-test: {message}", flush=True)


def tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        return f"(cannot read: {exc})"
    return "\n".join(text[-lines:])


class Cluster:
    """A master and its workers, each a JVM in its own process group (its executors too)."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.logs = base / "logs"
        self.logs.mkdir(parents=True)
        self.port, self.ui_port = free_port(), free_port()
        self.url = f"spark://{HOST}:{self.port}"
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        home = spark_home()
        self.spark_class = str(home / "bin" / "spark-class")
        daemon_tmp = base / "daemon-tmp"
        daemon_tmp.mkdir()
        self.env = {
            **os.environ,
            "SPARK_HOME": str(home),
            "JAVA_HOME": os.environ.get("JAVA_HOME") or java_home(),
            "SPARK_LOCAL_IP": HOST,
            "SPARK_DAEMON_MEMORY": "512m",
            "SPARK_DAEMON_JAVA_OPTS": f"-Djava.io.tmpdir={daemon_tmp}",
            "SPARK_CONF_DIR": str(base / "conf"),  # none: Spark's defaults, not a stray one
        }

    def _start(self, name: str, args: list[str], env: dict[str, str]) -> None:
        log = (self.logs / f"{name}.log").open("wb")
        self.procs[name] = subprocess.Popen(
            [self.spark_class, *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=self.base,
            start_new_session=True,  # its own process group: stopped as a whole
        )
        log.close()

    def start(self) -> None:
        self._start(
            "master",
            [
                "org.apache.spark.deploy.master.Master",
                *("--host", HOST, "--port", str(self.port), "--webui-port", str(self.ui_port)),
            ],
            self.env,
        )
        for i in range(1, WORKERS + 1):
            root = self.base / f"worker-{i}"
            for sub in ("work", "local", "tmp"):
                (root / sub).mkdir(parents=True)
            env = {
                **self.env,
                # Executors inherit the worker's environment: their scratch space (shuffle,
                # spills, Python workers' temp files) stays under the temp dir.
                "SPARK_LOCAL_DIRS": str(root / "local"),
                "TMPDIR": str(root / "tmp"),
            }
            self._start(
                f"worker-{i}",
                [
                    "org.apache.spark.deploy.worker.Worker",
                    self.url,
                    *("--cores", "1", "--memory", "1g", "--host", HOST),
                    *("--webui-port", str(free_port()), "--work-dir", str(root / "work")),
                ],
                env,
            )

    def state(self) -> dict[str, object]:
        with urllib.request.urlopen(f"http://{HOST}:{self.ui_port}/json/", timeout=5) as r:
            return dict(json.load(r))

    def wait_for_workers(self, timeout_s: float = 120.0) -> None:
        deadline = time.monotonic() + timeout_s
        alive = 0
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode} while starting")
            try:
                alive = int(str(self.state().get("aliveworkers", 0)))
            except OSError:
                alive = 0  # the master's UI is not up yet
            if alive == WORKERS:
                return
            time.sleep(1)
        raise RuntimeError(f"{alive} of {WORKERS} workers registered in {timeout_s:.0f}s")

    def stop(self) -> None:
        """SIGTERM every process group (a worker takes its executors down), SIGKILL after a
        grace period; safe to call twice."""
        for proc in reversed(list(self.procs.values())):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # whatever is left of the group
            proc.wait()

    def executor_logs(self) -> dict[str, list[Path]]:
        """Per worker, the stderr of each executor it launched for any application."""
        return {
            f"worker-{i}": sorted((self.base / f"worker-{i}" / "work").glob("app-*/*/stderr"))
            for i in range(1, WORKERS + 1)
        }


def package_zip(base: Path) -> Path:
    """The lakehouse package as `--py-files` ships it to executors (what a cluster without
    the project installed needs; the driver imports it from there too)."""
    target = base / "lakehouse.zip"
    with zipfile.ZipFile(target, "w") as zf:
        for path in sorted((ROOT / "src" / "lakehouse").rglob("*.py")):
            zf.write(path, path.relative_to(ROOT / "src"))
    return target


def tiny_data_config(base: Path, warehouse: Path) -> Path:
    """The job's config for this run: the sample's paths and the settings that keep Spark
    quick on tiny data (the test suite's, see LOCAL_TEST_CONF), none of them cluster-specific
    except `spark.locality.wait`: with cached inputs, a task would otherwise wait 3 s for the
    executor holding its block, on every stage."""
    from lakehouse.session import LOCAL_TEST_CONF

    spark_conf = {
        k: v for k, v in LOCAL_TEST_CONF.items() if not k.startswith(("spark.driver.", "spark.ui."))
    }
    spark_conf["spark.locality.wait"] = "0s"
    path = base / "cluster.yaml"
    path.write_text(
        json.dumps(  # JSON is YAML
            {
                "landing": str(LANDING),
                "warehouse": str(warehouse),
                "app_name": "lakehouse-cluster-test",
                "spark_conf": spark_conf,
            },
            indent=2,
        ),
        encoding="utf-8",
    )
    return path


def submit(cluster: Cluster, warehouse: Path) -> int:
    executor_tmp = cluster.base / "executor-tmp"
    executor_tmp.mkdir()
    driver_local = cluster.base / "driver-local"
    driver_local.mkdir()
    command = [
        str(ROOT / "scripts" / "spark-submit.sh"),
        *("--master", cluster.url),
        *("--driver-memory", "1g"),
        *("--py-files", str(package_zip(cluster.base))),
        *("--conf", f"spark.driver.host={HOST}"),
        *("--conf", f"spark.driver.bindAddress={HOST}"),
        *("--conf", "spark.ui.enabled=false"),
        *("--conf", "spark.executor.cores=1"),
        *("--conf", "spark.executor.memory=1g"),
        *("--conf", f"spark.cores.max={WORKERS}"),
        # Schedule nothing before both executors are there, so both do work.
        *("--conf", "spark.scheduler.minRegisteredResourcesRatio=1.0"),
        *("--conf", "spark.scheduler.maxRegisteredResourcesWaitingTime=120s"),
        *("--conf", f"spark.executor.extraJavaOptions=-Djava.io.tmpdir={executor_tmp}"),
        str(ROOT / "jobs" / "daily.py"),
        *("--from", FIRST.isoformat(), "--to", LAST.isoformat()),
        *("--config", str(tiny_data_config(cluster.base, warehouse))),
    ]
    env = {**os.environ, "SPARK_LOCAL_IP": HOST, "SPARK_LOCAL_DIRS": str(driver_local)}
    say(f"submitting the sample to {cluster.url}")
    with (cluster.logs / "driver.log").open("w", encoding="utf-8") as log:
        proc = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            env=env,
            cwd=cluster.base,  # nothing may depend on the driver's working directory
            start_new_session=True,
        )
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                log.write(line)
                if ANSWER.search(line):  # the job's own lines; everything is in driver.log
                    print(f"  driver| {line}", end="", flush=True)
            return proc.wait(timeout=1800)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def check_executors_worked(cluster: Cluster) -> list[str]:
    problems = []
    for worker, logs in cluster.executor_logs().items():
        tasks = sum(tail(p, 10**9).count("Finished task") for p in logs)
        say(f"{worker}: {len(logs)} executor(s), {tasks} task(s) finished")
        if tasks == 0:
            problems.append(f"{worker} ran no task: the job did not use the whole cluster")
    return problems


def stop_on_signals() -> None:
    """SIGTERM, SIGHUP and SIGINT end the test through its `finally` blocks, which stop the
    processes it started."""

    def stop(signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, stop)


def check_locally(base: Path, check: Callable[[SparkSession], list[str]]) -> list[str]:
    """`check` run in a local-mode session of its own, stopped afterwards."""
    spark = local_session(base)
    try:
        return check(spark)
    finally:
        spark.stop()


def local_session(base: Path) -> SparkSession:
    from lakehouse.session import LOCAL_TEST_CONF, build_session

    scratch = base / "local-mode"
    scratch.mkdir()
    os.environ["SPARK_LOCAL_DIRS"] = str(scratch)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    conf = {
        **LOCAL_TEST_CONF,
        "spark.sql.warehouse.dir": str(scratch / "spark-warehouse"),
        "spark.driver.extraJavaOptions": (
            f"{LOCAL_TEST_CONF['spark.driver.extraJavaOptions']} "
            f"-Djava.io.tmpdir={scratch} -Dderby.system.home={scratch}"
        ),
    }
    session: SparkSession = build_session("lakehouse-cluster-test-check", conf, master="local[2]")
    return session


def compare_tables(
    name: str,
    got: DataFrame,
    want: DataFrame,
    reference: str,
    where: str = "cluster",
    *,
    may_be_empty: bool = False,
) -> list[str]:
    """Whole-table equality (as multisets of rows), load metadata aside; [] when equal. An
    empty table counts as a problem unless `may_be_empty` (two empty tables prove nothing)."""
    got = got.drop(*[c for c in VOLATILE if c in got.columns])
    want = want.drop(*[c for c in VOLATILE if c in want.columns])
    types_got = {f.name: f.dataType for f in got.schema.fields}
    types_want = {f.name: f.dataType for f in want.schema.fields}
    if types_got != types_want:
        return [f"{name}: columns differ: {types_got} != {types_want}"]
    columns = sorted(types_got)
    got, want = got.select(columns), want.select(columns)
    extra, missing = got.exceptAll(want), want.exceptAll(got)
    n_extra, n_missing = extra.count(), missing.count()
    rows = got.count()
    if n_extra or n_missing:
        print(f"--- {name}, rows only in the {where} run:")
        extra.show(50, truncate=False)
        print(f"--- {name}, rows only in the {reference}:")
        missing.show(50, truncate=False)
        return [
            f"{name}: {n_extra} row(s) only in the {where} run, {n_missing} only in the {reference}"
        ]
    if rows == 0 and not may_be_empty:
        return [f"{name}: empty"]
    say(f"{name}: {rows} rows, equal to the {reference}")
    return []


def check_against_local_mode(
    spark: SparkSession, cluster_wh: Path, local_wh: Path, where: str = "cluster"
) -> list[str]:
    """The same dates run here in local mode; every table compared (the run log aside)."""
    from lakehouse.run import run_dates
    from lakehouse.tables import GOLD_TABLES, RUN_LOG, all_specs

    say("running the same dates in local mode")
    days = [FIRST + timedelta(days=i) for i in range((LAST - FIRST).days + 1)]
    run_dates(spark, Settings(landing=str(LANDING), warehouse=str(local_wh)), days)
    problems = []
    for spec in (s for s in all_specs() if s is not RUN_LOG):
        got = spark.read.format("delta").load(spec.path(str(cluster_wh)))
        want = spark.read.format("delta").load(spec.path(str(local_wh)))
        problems += compare_tables(
            spec.qualified_name,
            got,
            want,
            "local-mode run",
            where,
            may_be_empty=spec not in GOLD_TABLES,  # the sample quarantines nothing
        )
    return problems


def check_against_expected(spark: SparkSession, cluster_wh: Path) -> list[str]:
    """Every gold table against the sample's expected gold (tests/sample_expected.py), which
    tests/spark/test_sample.py asserts the local-mode run gives."""
    from lakehouse.tables import GOLD_TABLES
    from tests.helpers import gold_frame
    from tests.sample_expected import SAMPLE_GOLD

    expected = {
        spec.name: gold_frame(spark, spec, SAMPLE_GOLD[spec.name])
        for spec in GOLD_TABLES
        if spec.name in SAMPLE_GOLD
    }
    problems = []
    missing = sorted({s.name for s in GOLD_TABLES} - set(expected))
    if missing:
        problems.append(f"no expected rows for gold table(s) {', '.join(missing)}")
    for spec in GOLD_TABLES:
        if spec.name in expected:
            got = spark.read.format("delta").load(spec.path(str(cluster_wh)))
            problems += compare_tables(
                spec.qualified_name, got, expected[spec.name], "local-mode expected gold"
            )
    return problems


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--full",
        action="store_true",
        help="also run the dates in local mode here and compare every table of every layer "
        "(default: every gold table against the sample's expected gold)",
    )
    full = parser.parse_args(argv).full
    base = Path(tempfile.mkdtemp(prefix="lakehouse-cluster-"))
    say(f"working under {base}")

    stop_on_signals()
    cluster = Cluster(base)
    problems: list[str] = []
    started = time.monotonic()
    try:
        try:
            cluster.start()
            cluster.wait_for_workers()
            say(f"master {cluster.url} with {WORKERS} workers ({time.monotonic() - started:.0f}s)")
            code = submit(cluster, base / "warehouse-cluster")
            if code != 0:
                problems.append(f"the cluster run exited {code}")
            else:
                problems += check_executors_worked(cluster)
        finally:
            cluster.stop()
            say("cluster stopped")
        if not problems:
            problems += check_locally(
                base,
                lambda spark: (
                    check_against_local_mode(
                        spark, base / "warehouse-cluster", base / "warehouse-local"
                    )
                    if full
                    else check_against_expected(spark, base / "warehouse-cluster")
                ),
            )
    except Exception as exc:
        problems.append(f"{type(exc).__name__}: {exc}")
    elapsed = time.monotonic() - started
    if problems:
        for name in ("master", *[f"worker-{i}" for i in range(1, WORKERS + 1)], "driver"):
            print(f"\n===== tail of {cluster.logs / name}.log")
            print(tail(cluster.logs / f"{name}.log", 40))
        for worker, logs in cluster.executor_logs().items():
            for path in logs:
                print(f"\n===== tail of {worker} executor log {path}")
                print(tail(path, 30))
        print()
        for problem in problems:
            say(f"FAILED: {problem}")
        say(f"logs and warehouses kept under {base} ({elapsed:.0f}s)")
        return 1
    shutil.rmtree(base, ignore_errors=True)
    what = "every table equals the local-mode run" if full else "every gold table as expected"
    say(f"passed: {what} ({elapsed:.0f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
