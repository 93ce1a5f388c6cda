"""A second Spark session on the same metastore: `python tests/process/dump_by_name.py CONFIG OUT`
finds every table of the config by name, writes its rows as Parquet to OUT/<layer>/<name>,
and writes OUT/catalog.json: the tables each schema lists, and where each table lives."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from lakehouse import sql, storage
from lakehouse.config import load_settings
from lakehouse.session import job_session
from lakehouse.tables import all_specs


def main(config: str, out: str) -> None:
    settings = load_settings(Path(config))
    catalog = settings.catalog
    assert catalog is not None, "the config names no catalog"
    with job_session("lakehouse-by-name-reader", settings.spark_conf) as spark:
        listed = {
            schema: sorted(
                r["tableName"] for r in spark.sql(f"SHOW TABLES IN {sql.ident(schema)}").collect()
            )
            for schema in sorted(set(catalog.schemas.values()))
        }
        locations = {}
        for spec in all_specs():
            table = spec.table(settings.tables)
            storage.read(spark, table).write.parquet(f"{out}/{spec.qualified_name}")
            locations[spec.qualified_name] = storage.table_detail(spark, table)["location"]
    Path(out, "catalog.json").write_text(json.dumps({"listed": listed, "locations": locations}))


if __name__ == "__main__":
    main(*sys.argv[1:])
