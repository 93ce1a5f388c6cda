"""Run-order invariant on the rule scenario: a shuffled schedule with reruns gives exactly
the hand-written expected gold and quarantine of the in-order run."""

from __future__ import annotations

from pathlib import Path

from chispa import assert_df_equality
from pyspark.sql import SparkSession

from lakehouse.tables import GOLD_TABLES, SOURCES, quarantine_spec
from tests import scenario
from tests.helpers import read, run_all


def test_any_order_with_reruns_gives_the_same_tables(spark: SparkSession, tmp_path: Path) -> None:
    landing, warehouse = tmp_path / "landing", tmp_path / "wh"
    scenario.write_scenario(landing)
    run_all(spark, landing, warehouse, [scenario.D3, scenario.D1, scenario.D3, scenario.D2])
    expected = scenario.expected_gold(spark)
    for spec in GOLD_TABLES:
        assert_df_equality(
            read(spark, spec, warehouse),
            expected[spec.name],
            ignore_row_order=True,
            ignore_nullable=True,
        )
    for source in SOURCES:
        rows = read(spark, quarantine_spec(source), warehouse).collect()
        key = source.key[0]
        got = [(r[key], r["_reason"], r["_source_file"], r["_ingest_date"]) for r in rows]
        assert sorted(map(str, got)) == sorted(map(str, scenario.EXPECTED_QUARANTINE[source.name]))
