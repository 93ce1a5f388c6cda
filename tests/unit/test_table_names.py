"""A config's `catalog:` names every table by layer (or leaves it to its path)."""

from __future__ import annotations

from itertools import permutations
from pathlib import Path

from pyspark.sql import types as T

from lakehouse.config import load_settings
from lakehouse.silver import drifted_names
from lakehouse.sources import APP_EVENTS, CRM
from lakehouse.storage import drift_moves, placed_columns
from lakehouse.warehouse import Table
from tests.paths import ROOT


def test_the_config_names_every_table_by_layer(tmp_path: Path) -> None:
    config = tmp_path / "conf.yaml"
    config.write_text(
        "landing: land\nwarehouse: wh\n"
        "catalog: {name: main, schemas: {gold: lakehouse_gold, ops: retail_ops}}\n"
    )
    tables = load_settings(config).tables
    wh = str(tmp_path / "wh")
    gold = tables.table("gold", "dim_customer_current")
    assert gold == Table(
        f"{wh}/gold/dim_customer_current", ("main", "lakehouse_gold", "dim_customer_current")
    )
    assert gold.sql == "`main`.`lakehouse_gold`.`dim_customer_current`"
    assert tables.table("ops", "run_log").name == ("main", "retail_ops", "run_log")
    assert tables.table("bronze", "app_events").name == ("main", "lakehouse_bronze", "app_events")

    config.write_text("landing: land\ncatalog: {schema_prefix: shop, managed: true}\n")
    managed = load_settings(config)
    assert managed.warehouse == ""
    assert managed.tables.table("silver", "order_updates") == Table(
        None, ("shop_silver", "order_updates")
    )

    uc = load_settings(ROOT / "conf" / "databricks-uc.yaml").tables  # the bundled example
    assert uc.table("gold", "dim_customer_current") == Table(
        None, ("main", "lakehouse_gold", "dim_customer_current")
    )

    config.write_text("landing: land\nwarehouse: wh\n")
    by_path = load_settings(config).tables.table("gold", "fact_order_current")
    assert by_path == Table(f"{wh}/gold/fact_order_current")
    assert by_path.sql == f"delta.`{wh}/gold/fact_order_current`"


def _added_one_date_at_a_time(
    declared: list[str], drift_by_date: list[list[str]], columns: list[str] | None = None
) -> tuple[list[str], list[list[str]]]:
    """The columns after each date's drift is added to a table (of the declared columns, or
    of `columns`), and each date's `ADD COLUMNS` items."""
    columns, statements = list(columns or declared), []
    for drift in drift_by_date:
        fields = [T.StructField(name, T.StringType()) for name in drift]
        columns, added = placed_columns(columns, declared, fields)
        statements.append(added)
    return columns, statements


def test_drifted_columns_end_sorted_after_the_declared_ones_whatever_the_order_of_dates() -> None:
    declared = ["customer_id", "updated_at", "_ingest_date"]
    in_order, statements = _added_one_date_at_a_time(declared, [["phone"], ["loyalty", "Zip"]])
    reversed_, _ = _added_one_date_at_a_time(declared, [["loyalty", "Zip"], ["phone"]])
    assert in_order == reversed_ == [*declared, "Zip", "loyalty", "phone"]
    assert statements == [
        ["`phone` string AFTER `_ingest_date`"],
        ["`Zip` string AFTER `_ingest_date`", "`loyalty` string AFTER `Zip`"],
    ]
    # a declared column an older table lacks goes after the declared ones it has
    older, _ = _added_one_date_at_a_time(declared, [["_ingest_date"]], [*declared[:2], "phone"])
    assert older == [*declared[:2], "_ingest_date", "phone"]


def test_drifted_columns_out_of_order_are_moved_into_it_whatever_their_order() -> None:
    """Runs placing columns against older looks leave drift in any order; the moves, applied
    as Delta's `ALTER COLUMN c AFTER p` does, sort it and leave the declared columns be."""
    declared = ["customer_id", "updated_at", "_ingest_date"]
    for drift in permutations(["Zip", "loyalty", "phone"]):
        columns = [*declared, *drift]
        for column, after in drift_moves(columns, declared):
            columns.remove(column)
            columns.insert(columns.index(after) + 1, column)
        assert columns == [*declared, "Zip", "loyalty", "phone"], drift
    assert drift_moves([*declared, "Zip", "phone"], declared) == []
    assert drift_moves([*declared, "phone", "loyalty"], declared) == [("loyalty", "_ingest_date")]
    assert drift_moves(["phone", *declared], declared) == [("phone", "_ingest_date")]


def test_a_drifted_column_named_like_a_derived_one_keeps_one_name_on_every_date() -> None:
    """`load_date` is the job's own column in the CRM's silver: a drifted one of that name,
    and one already called `load_date_drifted`, each get a name of their own, the same on a
    date that brings them together as on dates that bring one."""
    together = drifted_names(CRM, ["load_date", "load_date_drifted", "phone"])
    assert together == {
        "load_date": "load_date_drifted",
        "load_date_drifted": "load_date_drifted_drifted",
        "phone": "phone",
    }
    for column, name in together.items():
        assert drifted_names(CRM, [column]) == {column: name}
    assert drifted_names(APP_EVENTS, ["event_date", "load_date"]) == {
        "event_date": "event_date_drifted",
        "load_date": "load_date",
    }
