"""Print the five gold tables: `spark-submit jobs/show_gold.py [--config F] [--warehouse W]`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

try:
    from lakehouse.config import load_settings
except ModuleNotFoundError:  # a checkout without `pip install`: use the package beside it
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from lakehouse.config import load_settings

from lakehouse.errors import UsageError


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", type=Path)
    parser.add_argument("--warehouse")
    args = parser.parse_args()
    try:
        settings = load_settings(args.config, warehouse=args.warehouse)
    except UsageError as exc:
        print(f"show_gold.py: error: {exc}", file=sys.stderr)
        return 2
    from lakehouse import storage
    from lakehouse.session import job_session
    from lakehouse.tables import (
        GOLD_TABLES,
    )

    with job_session("lakehouse-show-gold", settings.spark_conf) as spark:
        for spec in GOLD_TABLES:
            frame = storage.read(spark, spec.table(settings.tables))
            key = [c for c in frame.columns if c.endswith("_id") or c == "event_date"][:2]
            print(f"\n== gold/{spec.name} ({frame.count()} rows)")
            frame.orderBy(*key, *frame.columns).show(100, truncate=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
