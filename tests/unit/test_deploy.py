"""Where the job is deployed, checked without a workspace or a scheduler: the Databricks
Asset Bundle (every task a real entry point with arguments the job accepts), the Airflow
example DAG, and how scripts/spark-submit.sh forwards its arguments. No Spark here."""

from __future__ import annotations

import ast
import importlib
import os
import py_compile
import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from lakehouse.cli import _parser, parse_args, parse_steps
from lakehouse.config import load_settings
from lakehouse.maintenance import MAX_FILE_SIZE
from lakehouse.session import (
    LOCAL_JVM_OPTIONS,
    LOG_CONFIG,
    LOG_CONFIG_ENV,
    LOG_CONFIG_OPTION,
    SHORT_RUN_JVM_OPTIONS,
    delta_packages,
    installed_jars,
    log_config_env,
    record_jars,
    runtime_conf,
)
from tests.paths import ROOT, SAMPLE_LANDING

BUNDLE_FILE = ROOT / "databricks.yml"
JOB_FILE = ROOT / "resources" / "lakehouse_daily.job.yml"
SERVERLESS_JOB_FILE = ROOT / "resources" / "lakehouse_daily_serverless.job.yml"
JOB_FILES = [JOB_FILE, SERVERLESS_JOB_FILE]
RUN_DATE = "2025-03-03"
STEPS = ["bronze", "silver", "gold"]


def _bundle() -> dict[str, Any]:
    return dict(yaml.safe_load(BUNDLE_FILE.read_text(encoding="utf-8")))


def _job(job_file: Path = JOB_FILE) -> dict[str, Any]:
    """The one job a resource file defines."""
    (job,) = yaml.safe_load(job_file.read_text(encoding="utf-8"))["resources"]["jobs"].values()
    return dict(job)


def _pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _target_variables(target: str, **overrides: str) -> dict[str, str]:
    """The bundle's variables as `databricks bundle validate -t <target>` resolves them."""
    bundle = _bundle()
    values = {k: v.get("default") for k, v in bundle["variables"].items()}
    values |= bundle["targets"][target].get("variables") or {}
    values |= overrides
    missing = sorted(k for k, v in values.items() if v is None)
    assert not missing, f"target {target}: variables without a value: {missing}"
    return {k: str(v) for k, v in values.items()}


def _substitute(text: str, variables: dict[str, str]) -> str:
    """What Databricks does with a task parameter: bundle variables when deploying (the
    workspace's synced files standing in for this checkout), job parameters when running."""
    for _ in range(3):  # a variable's default may name another substitution
        text = re.sub(r"\$\{var\.([A-Za-z_][A-Za-z0-9_]*)\}", lambda m: variables[m[1]], text)
        text = text.replace("${workspace.file_path}", str(ROOT))
    text = text.replace("{{job.parameters.run_date}}", RUN_DATE)
    assert "${" not in text and "{{" not in text, f"unresolved placeholder in {text!r}"
    return text


def test_both_targets_exist_and_resolve_every_variable() -> None:
    bundle = _bundle()
    assert bundle["bundle"]["name"] == "lakehouse"
    assert set(bundle["targets"]) == {"dev", "prod"}
    assert bundle["targets"]["dev"]["mode"] == "development"
    assert bundle["targets"]["dev"]["default"] is True
    assert bundle["targets"]["prod"]["mode"] == "production"
    for job_file in JOB_FILES:
        used = set(re.findall(r"\$\{var\.([A-Za-z_][A-Za-z0-9_]*)\}", job_file.read_text()))
        assert {"landing", "warehouse", "config"} <= used <= set(bundle["variables"])
    for target in ("dev", "prod"):
        values = _target_variables(target)
        assert values["landing"].startswith("s3a://"), target
        assert values["warehouse"].startswith("s3a://"), target
    # The job file is what the bundle includes.
    included = {p for pattern in bundle["include"] for p in ROOT.glob(pattern)}
    assert set(JOB_FILES) <= included


def test_the_wheel_is_built_by_the_bundle_and_installed_on_every_task() -> None:
    artifact = _bundle()["artifacts"]["lakehouse_wheel"]
    assert artifact["type"] == "whl"
    assert (ROOT / artifact["path"]).resolve() == ROOT
    assert artifact["build"].split()[:3] == ["python", "-m", "build"]
    assert "--outdir dist" in artifact["build"]
    for task in _job()["tasks"]:
        wheels = [lib["whl"] for lib in task["libraries"]]
        assert len(wheels) == 1, task["task_key"]
        # Library paths in a resource file are relative to that file.
        assert (JOB_FILE.parent / wheels[0]).resolve() == ROOT / "dist" / "*.whl"


def test_the_serverless_job_runs_the_same_tasks_in_an_environment_holding_the_wheel() -> None:
    """Serverless: no cluster, no cluster library; each task in the environment whose
    dependencies install the wheel. Otherwise the job is the job-cluster one."""
    cluster_job, serverless = _job(JOB_FILE), _job(SERVERLESS_JOB_FILE)
    assert "job_clusters" not in serverless
    (environment,) = serverless["environments"]
    (wheel,) = environment["spec"]["dependencies"]
    assert (SERVERLESS_JOB_FILE.parent / wheel).resolve() == ROOT / "dist" / "*.whl"
    compute_keys = ("job_cluster_key", "environment_key", "libraries")
    for mine, theirs in zip(serverless["tasks"], cluster_job["tasks"], strict=True):
        assert mine["environment_key"] == environment["environment_key"]
        assert "libraries" not in mine
        assert {k: v for k, v in mine.items() if k not in compute_keys} == {
            k: v for k, v in theirs.items() if k not in compute_keys
        }
    assert serverless["schedule"]["pause_status"] == "${var.serverless_schedule_pause_status}"
    assert cluster_job["schedule"]["pause_status"] == "${var.schedule_pause_status}"


@pytest.mark.parametrize("job_file", JOB_FILES, ids=lambda p: p.stem)
def test_three_tasks_chained_with_retries_timeouts_and_a_daily_schedule(job_file: Path) -> None:
    job = _job(job_file)
    tasks = {t["task_key"]: t for t in job["tasks"]}
    assert list(tasks) == STEPS
    assert "depends_on" not in tasks["bronze"]
    assert tasks["silver"]["depends_on"] == [{"task_key": "bronze"}]
    assert tasks["gold"]["depends_on"] == [{"task_key": "silver"}]
    for task in tasks.values():
        assert task["max_retries"] >= 1
        assert task["min_retry_interval_millis"] > 0
        assert 0 < task["timeout_seconds"] <= job["timeout_seconds"]
        compute = {c["job_cluster_key"] for c in job.get("job_clusters", [])}
        compute |= {e["environment_key"] for e in job.get("environments", [])}
        assert task.get("job_cluster_key", task.get("environment_key")) in compute
    # Quartz: seconds minutes hours day-of-month month day-of-week; every day at a fixed time.
    fields = job["schedule"]["quartz_cron_expression"].split()
    assert len(fields) == 6 and fields[3:] == ["*", "*", "?"], fields
    assert all(f.isdigit() for f in fields[:3])
    assert job["schedule"]["timezone_id"] == "UTC"
    assert job["max_concurrent_runs"] == 1
    assert job["parameters"] == [{"name": "run_date", "default": "{{job.trigger.time.iso_date}}"}]


@pytest.mark.parametrize("job_file", JOB_FILES, ids=lambda p: p.stem)
def test_every_task_calls_a_real_entry_point_of_the_wheel(job_file: Path) -> None:
    project = _pyproject()["project"]
    for task in _job(job_file)["tasks"]:
        wheel_task = task["python_wheel_task"]
        assert wheel_task["package_name"] == project["name"]
        target = project["scripts"][wheel_task["entry_point"]]  # a console script of the wheel
        module, _, function = target.partition(":")
        assert callable(getattr(importlib.import_module(module), function)), target


@pytest.mark.parametrize("job_file", JOB_FILES, ids=lambda p: p.stem)
@pytest.mark.parametrize("target", ["dev", "prod"])
def test_task_parameters_are_valid_job_arguments(
    target: str, job_file: Path, tmp_path: Path
) -> None:
    """Each task's parameters, placeholders filled in, pass the job's own parser (exit 2 on
    any problem): once with the target's object-storage paths, once with a real landing."""
    local = {"landing": str(SAMPLE_LANDING), "warehouse": str(tmp_path / "wh")}
    for overrides in ({}, local):
        variables = _target_variables(target, **overrides)
        for task in _job(job_file)["tasks"]:
            params = [_substitute(p, variables) for p in task["python_wheel_task"]["parameters"]]
            settings, days = parse_args(params, prog="lakehouse-daily")
            assert [d.isoformat() for d in days] == [RUN_DATE]
            assert parse_steps(_parser("lakehouse-daily").parse_args(params).steps) == (
                task["task_key"],
            )
            assert (settings.landing, settings.warehouse) == (
                variables["landing"].rstrip("/"),
                variables["warehouse"].rstrip("/"),
            )
            assert params[params.index("--config") + 1] == str(ROOT / "conf" / "prod.yaml")


AIRFLOW_DAG = ROOT / "examples" / "airflow_dag.py"


def _calls(tree: ast.AST, name: str) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == name
    ]


def _keywords(call: ast.Call) -> dict[str, ast.expr]:
    return {k.arg: k.value for k in call.keywords if k.arg is not None}


def test_airflow_example_compiles_and_submits_the_daily_job_for_ds(tmp_path: Path) -> None:
    """Compiled, never imported: Airflow is not a dependency of the project."""
    py_compile.compile(str(AIRFLOW_DAG), cfile=str(tmp_path / "dag.pyc"), doraise=True)
    tree = ast.parse(AIRFLOW_DAG.read_text(encoding="utf-8"))
    (dag,) = _calls(tree, "DAG")
    dag_args = _keywords(dag)
    assert ast.literal_eval(dag_args["catchup"]) is True
    assert ast.literal_eval(dag_args["schedule"]) == "@daily"
    defaults = dag_args["default_args"]
    assert isinstance(defaults, ast.Dict)
    default_args = {
        ast.literal_eval(k): v for k, v in zip(defaults.keys, defaults.values, strict=True) if k
    }
    assert ast.literal_eval(default_args["retries"]) >= 1
    (submit,) = _calls(tree, "SparkSubmitOperator")
    kwargs = _keywords(submit)
    assert isinstance(kwargs["application"], ast.JoinedStr)
    assert ast.unparse(kwargs["application"]).endswith("/jobs/daily.py'")
    args = kwargs["application_args"]
    assert isinstance(args, ast.List)
    texts = [e.value if isinstance(e, ast.Constant) else ast.unparse(e) for e in args.elts]
    assert texts[:2] == ["--run-date", "{{ ds }}"]
    assert texts[2:4] == ["--steps", "step"]  # one task per step of STEPS
    assigned = {
        n.targets[0].id: n.value
        for n in tree.body
        if isinstance(n, ast.Assign) and isinstance(n.targets[0], ast.Name)
    }
    assert ast.literal_eval(assigned["STEPS"]) == tuple(STEPS)
    assert ast.literal_eval(assigned["DELTA_PACKAGES"]) == delta_packages()


def test_spark_submit_wrapper_joins_packages_and_forwards_the_rest(tmp_path: Path) -> None:
    """scripts/spark-submit.sh against a stand-in spark-submit that prints its arguments:
    --master defaults to local[*], a user's --packages and --jars join Delta's (and the
    lineage listener's when the job's config turns it on), everything else is forwarded as
    given."""
    (tmp_path / "scripts").mkdir()
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for name in ("spark-submit.sh", "java-home.sh"):
        (tmp_path / "scripts" / name).write_bytes((ROOT / "scripts" / name).read_bytes())
        (tmp_path / "scripts" / name).chmod(0o755)
    stub_python = bin_dir / "python"
    stub_python.write_text(f'#!/bin/sh\nexec "{ROOT / ".venv" / "bin" / "python"}" "$@"\n')
    stub_submit = bin_dir / "spark-submit"
    stub_submit.write_text('#!/bin/sh\nfor a in "$@"; do echo "$a"; done\n')
    for stub in (stub_python, stub_submit):
        stub.chmod(0o755)
    lineage = tmp_path / "lineage.yaml"
    lineage.write_text("landing: /l\nwarehouse: /w\nlineage: {openlineage: {enabled: true}}\n")

    def run(*args: str) -> list[str]:
        out = subprocess.run(
            [str(tmp_path / "scripts" / "spark-submit.sh"), *args],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "JAVA_HOME": os.environ.get("JAVA_HOME", "")},
        )
        return out.stdout.splitlines()

    def driver_options(args: list[str]) -> str:
        (option,) = [a for a in args if a.startswith("spark.driver.extraJavaOptions=")]
        return option

    got = run("--py-files", "x.py", "jobs/daily.py", "--run-date", RUN_DATE)
    assert got[:4] == ["--master", "local[*]", "--packages", delta_packages()]
    assert got[-5:] == ["--py-files", "x.py", "jobs/daily.py", "--run-date", RUN_DATE]
    assert f" {LOCAL_JVM_OPTIONS} {SHORT_RUN_JVM_OPTIONS}" in driver_options(got)  # local mode
    assert LOG_CONFIG_OPTION in driver_options(got)

    # A --packages before the job joins Delta's; the job's own --packages is the job's.
    forwarded = ["--master", "spark://h:7077", "jobs/daily.py", "--config", str(lineage)]
    forwarded += ["--packages", "job-arg"]
    got = run("--packages=org.example:x:1", *forwarded)
    assert got[:2] == [
        "--packages",
        f"{delta_packages()},io.openlineage:openlineage-spark_2.13:1.53.0,org.example:x:1",
    ]
    assert got[-7:] == forwarded
    # A cluster's driver: the project's logging only.
    assert driver_options(got) == f"spark.driver.extraJavaOptions={LOG_CONFIG_OPTION}"

    # With the jars `make install` recorded, Delta comes from them and Ivy resolves only
    # what is left (here the lineage listener), or nothing at all.
    jar = tmp_path / "delta-spark.jar"
    jar.write_bytes(b"")
    record_jars(f"file://{jar}", tmp_path / ".venv" / "delta-jars.txt")
    got = run("jobs/daily.py", "--run-date", RUN_DATE)
    assert got[:5] == ["--master", "local[*]", "--jars", f"file://{jar}", "--conf"]
    assert "--packages" not in got
    got = run(*forwarded)
    assert got[:4] == [
        "--jars",
        f"file://{jar}",
        "--packages",
        "io.openlineage:openlineage-spark_2.13:1.53.0",
    ]
    # A user's --jars (a driver, hadoop-aws) joins the recorded ones, in either spelling.
    for given in (["--jars", "/x/a.jar,/x/b.jar"], ["--jars=/x/a.jar,/x/b.jar"]):
        got = run(*given, "jobs/daily.py", "--run-date", RUN_DATE)
        assert got[:4] == ["--master", "local[*]", "--jars", f"file://{jar},/x/a.jar,/x/b.jar"]
        assert got.count("--jars") == 1


def test_recorded_jars_count_only_for_this_delta_version_and_while_on_disk(
    tmp_path: Path,
) -> None:
    record = tmp_path / "delta-jars.txt"
    assert installed_jars(record) is None  # nothing recorded: Spark's resolver fetches Delta
    jars = [tmp_path / "a.jar", tmp_path / "b.jar"]
    for jar in jars:
        jar.write_bytes(b"")
    listed = ",".join(f"file://{j}" for j in jars)
    record_jars(listed, record)
    assert installed_jars(record) == listed.split(",")
    jars[1].unlink()
    assert installed_jars(record) is None  # a jar gone from disk: resolve again
    jars[1].write_bytes(b"")
    record.write_text(f"io.delta:delta-spark_4.2_2.13:0.0.1\n{listed}\n", encoding="utf-8")
    assert installed_jars(record) is None  # another Delta version's jars


def test_over_connect_the_session_takes_the_sql_and_delta_settings_and_not_the_servers() -> None:
    """Maintenance's file size is Delta's session setting: it reaches a Connect session, where
    the s3a region (the server JVM's own) does not."""
    conf = load_settings(ROOT / "conf" / "prod.yaml").spark_conf
    assert runtime_conf(conf) == {
        "spark.sql.shuffle.partitions": "200",
        "spark.sql.adaptive.enabled": "true",
        MAX_FILE_SIZE: "134217728",
    }


def test_a_jvm_the_job_starts_logs_as_the_package_says_unless_told_otherwise(
    tmp_path: Path,
) -> None:
    """The driver's logging file ships in the package (a wheel has it too). It reaches a JVM
    the job starts through the environment, so a logging file named already (the variable,
    Spark's conf folder, or a `-D` option, which wins over the variable) is kept."""
    assert LOG_CONFIG.is_file()
    assert log_config_env({}) == {LOG_CONFIG_ENV: LOG_CONFIG.as_uri()}
    assert log_config_env({LOG_CONFIG_ENV: "file:/etc/mine.properties"}) == {}
    assert log_config_env({"SPARK_CONF_DIR": str(tmp_path)}) == {
        LOG_CONFIG_ENV: LOG_CONFIG.as_uri()
    }
    (tmp_path / "log4j2.properties").write_text("rootLogger.level = info\n")
    assert log_config_env({"SPARK_CONF_DIR": str(tmp_path)}) == {}
