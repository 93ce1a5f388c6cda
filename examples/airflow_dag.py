"""Airflow DAG for the daily lakehouse job: an example, not a dependency of the project.

Copy it into the DAGs folder of an Airflow 2.x or 3.x deployment that has the Spark provider
(`apache-airflow-providers-apache-spark`) and a `spark_default` connection to the cluster
(`spark://master:7077`, YARN, Kubernetes). Each DAG run processes the ingest date `{{ ds }}`
(the logical date of its interval), so:

- the daily schedule runs yesterday's drop once its interval has closed;
- `catchup=True` backfills every date since `start_date` in order, one at a time
  (`max_active_runs=1`: dates run in order, as a range run would), and
  `airflow dags backfill -s 2025-03-01 -e 2025-03-04 lakehouse_daily` reruns any range;
- bronze, silver and gold are three tasks (`--steps`), each idempotent on its own, so a
  failed task is retried, or cleared and rerun alone, without redoing the layers before it.

The job ships as `lakehouse.zip` (`cd src && zip -r ../lakehouse.zip lakehouse`) next to
`jobs/daily.py` on the Airflow workers; the cluster needs the Delta jars, given here as
`packages` (the coordinate `python -m lakehouse.session --packages` prints).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow import DAG
from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator

JOB_DIR = "/opt/lakehouse"  # where jobs/daily.py, lakehouse.zip and conf/ are deployed
LANDING = "s3a://retail-lakehouse-landing/landing"
WAREHOUSE = "s3a://retail-lakehouse/warehouse"
DELTA_PACKAGES = "io.delta:delta-spark_4.2_2.13:4.4.0"
STEPS = ("bronze", "silver", "gold")

with DAG(
    dag_id="lakehouse_daily",
    description="Landing zone -> bronze -> silver/quarantine -> gold, one ingest date a run",
    schedule="@daily",
    start_date=datetime(2025, 3, 1),
    catchup=True,
    max_active_runs=1,
    default_args={
        "owner": "data-platform",
        "retries": 2,
        "retry_delay": timedelta(minutes=10),
        "execution_timeout": timedelta(hours=2),
    },
    tags=["lakehouse", "spark", "delta"],
) as dag:
    previous = None
    for step in STEPS:
        task = SparkSubmitOperator(
            task_id=step,
            conn_id="spark_default",
            application=f"{JOB_DIR}/jobs/daily.py",
            py_files=f"{JOB_DIR}/lakehouse.zip",
            packages=DELTA_PACKAGES,
            conf={
                "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
                "spark.sql.catalog.spark_catalog": (
                    "org.apache.spark.sql.delta.catalog.DeltaCatalog"
                ),
                "spark.sql.session.timeZone": "UTC",
            },
            application_args=[
                "--run-date",
                "{{ ds }}",
                "--steps",
                step,
                "--landing",
                LANDING,
                "--warehouse",
                WAREHOUSE,
                "--config",
                f"{JOB_DIR}/conf/prod.yaml",
            ],
            name=f"lakehouse-daily-{step}",
        )
        if previous is not None:
            previous >> task
        previous = task
