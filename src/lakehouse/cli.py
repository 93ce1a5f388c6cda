"""The command line of the daily job: parse and validate everything before Spark starts."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import NoReturn

from lakehouse.config import Settings, is_uri, load_settings, parse_run_date
from lakehouse.errors import QualityThresholdError, UsageError

USAGE_EXIT = 2
QUALITY_EXIT = 3  # data landed and was kept, but a source is over its quarantine threshold


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
    p.add_argument(
        "--log-format", choices=("text", "json"), default="text", help="json for log shippers"
    )
    return p


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line: what log shippers parse without a grok pattern."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def configure_logging(log_format: str) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonLogFormatter()
        if log_format == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)


def parse_args(argv: Sequence[str], prog: str = "daily.py") -> tuple[Settings, date]:
    """Return validated settings and the run date, or exit 2 naming the problem."""
    settings, day, _ = _parse(argv, prog)
    return settings, day


def _parse(argv: Sequence[str], prog: str) -> tuple[Settings, date, argparse.Namespace]:
    args = _parser(prog).parse_args(list(argv))
    try:
        day = parse_run_date(args.run_date)
        settings = load_settings(args.config, landing=args.landing, warehouse=args.warehouse)
        if not is_uri(settings.landing) and not os.path.isdir(settings.landing):
            raise UsageError(f"landing root {settings.landing!r} does not exist")
    except UsageError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        raise SystemExit(USAGE_EXIT) from None
    return settings, day, args


def main(argv: Sequence[str] | None = None, prog: str = "daily.py") -> int:
    settings, day, args = _parse(sys.argv[1:] if argv is None else argv, prog)
    configure_logging(args.log_format)
    # Imported here so that a bad command line never pays for (or waits on) a JVM.
    from lakehouse.run import run_date
    from lakehouse.session import build_session

    spark = build_session(settings.app_name, settings.spark_conf)
    try:
        run_date(spark, settings, day)
    except QualityThresholdError as exc:
        logging.getLogger("lakehouse").error("run for %s over a quality threshold: %s", day, exc)
        return QUALITY_EXIT
    except Exception:
        logging.getLogger("lakehouse").exception("run for %s failed", day)
        return 1
    finally:
        spark.stop()
    return 0


def report_main(argv: Sequence[str] | None = None, prog: str = "report.py") -> int:
    """Print the SLA report of one ingest date (text, or JSON for machines)."""
    parser = _parser(prog)
    parser.description = "Print the SLA report of one ingest date."
    parser.add_argument("--format", choices=("text", "json"), default="text")
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        day = parse_run_date(args.run_date)
        settings = load_settings(args.config, landing=args.landing, warehouse=args.warehouse)
    except UsageError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return USAGE_EXIT
    from lakehouse import report
    from lakehouse.session import build_session

    spark = build_session(f"{settings.app_name}-report", settings.spark_conf)
    try:
        built = report.build(spark, settings.warehouse, day)
    finally:
        spark.stop()
    print(report.render_json(built) if args.format == "json" else report.render_text(built))
    return 0
