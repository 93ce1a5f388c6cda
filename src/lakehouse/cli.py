"""The command line of the daily job: parse and validate everything before Spark starts."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import NoReturn

from lakehouse.config import Settings, is_uri, load_settings, parse_run_date
from lakehouse.errors import UsageError

USAGE_EXIT = 2


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad command line is one line on stderr and exit 2."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(USAGE_EXIT)


def _parser(prog: str) -> argparse.ArgumentParser:
    p = _Parser(prog=prog, description="Run the daily lakehouse job for one ingest date.")
    p.add_argument("--run-date", required=True, help="ingest date to process, YYYY-MM-DD")
    p.add_argument("--landing", help="root of the landing zone (default: from config)")
    p.add_argument("--warehouse", help="root of the Delta tables (default: from config)")
    p.add_argument("--config", type=Path, help="YAML config (default: conf/local.yaml)")
    return p


def parse_args(argv: Sequence[str], prog: str = "daily.py") -> tuple[Settings, date]:
    """Return validated settings and the run date, or exit 2 naming the problem."""
    args = _parser(prog).parse_args(list(argv))
    try:
        day = parse_run_date(args.run_date)
        settings = load_settings(args.config, landing=args.landing, warehouse=args.warehouse)
        if not is_uri(settings.landing) and not os.path.isdir(settings.landing):
            raise UsageError(f"landing root {settings.landing!r} does not exist")
    except UsageError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        raise SystemExit(USAGE_EXIT) from None
    return settings, day


def main(argv: Sequence[str] | None = None, prog: str = "daily.py") -> int:
    settings, day = parse_args(sys.argv[1:] if argv is None else argv, prog)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Imported here so that a bad command line never pays for (or waits on) a JVM.
    from lakehouse.run import run_date
    from lakehouse.session import build_session

    spark = build_session(settings.app_name, settings.spark_conf)
    try:
        run_date(spark, settings, day)
    except Exception:
        logging.getLogger("lakehouse").exception("run for %s failed", day)
        return 1
    finally:
        spark.stop()
    return 0
