"""A config's `catalog:` names every table by layer (or leaves it to its path)."""

from __future__ import annotations

from pathlib import Path

from lakehouse.config import load_settings
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
