"""The command line of the daily job: parse and validate everything before Spark starts."""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import re
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from lakehouse.config import STEPS, Settings, load_settings, parse_run_date
from lakehouse.errors import NoSessionError, QualityThresholdError, UsageError
from lakehouse.files import local_path

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

_Entry = Callable[[list[str], str], int]  # an entry point's body: (argv, prog) -> exit status

USAGE_EXIT = 2
QUALITY_EXIT = 3  # data landed and was kept, but a source is over its quarantine threshold


class _StoreOnce(argparse._StoreAction):
    """An option's value, given at most once: argparse would let a second one win silently
    (`--run-date A --run-date B` running B). Each entry point builds its parser for the one
    command line it parses."""

    given = False

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        if self.given:
            parser.error(f"{'/'.join(self.option_strings)} given twice")
        self.given = True
        super().__call__(parser, namespace, values, option_string)


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad command line is a `UsageError`, said by the entry point like any
    other (one line, exit 2), and an option with a value is given at most once."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in (None, "store"):
            self.register("action", name, _StoreOnce)

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def add_remote(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--remote",
        help="Spark Connect server to run on, sc://host:port (default: $SPARK_REMOTE; "
        "neither: classic Spark in this process or spark-submit's)",
    )


# sc://host[:port][/;params], the host a name or a bracketed IPv6 address.
_CONNECT_URL = re.compile(r"sc://(\[[^\]/]+\]|[^:/;\[\]]+)(?::([0-9]{1,5}))?(?:[/;].*)?\Z", re.S)


def parse_remote(text: str | None) -> str | None:
    """The Spark Connect URL of `--remote` or $SPARK_REMOTE (set but empty: none, as Spark
    takes it); anything but sc://host[:port] exits 2, naming where it came from."""
    remote: str | None
    if text is not None:
        given, remote = "--remote", text
    else:
        given, remote = "SPARK_REMOTE", os.environ.get("SPARK_REMOTE") or None
    if remote is None:
        return None
    url = _CONNECT_URL.match(remote)
    if url is None or not 0 < int(url.group(2) or 1) < 65536:
        raise UsageError(f"{given} {remote!r}: a Spark Connect URL is sc://host[:port][/;params]")
    return remote


def _parser(prog: str) -> argparse.ArgumentParser:
    p = _Parser(
        prog=prog,
        description="Run the daily lakehouse job for one ingest date, or a range in one session.",
    )
    p.add_argument("--run-date", help="ingest date to process, YYYY-MM-DD")
    p.add_argument("--from", dest="date_from", help="first ingest date of a range (with --to)")
    p.add_argument("--to", dest="date_to", help="last ingest date of a range, included")
    p.add_argument("--landing", help="root of the landing zone (default: from config)")
    p.add_argument(
        "--steps",
        default=",".join(STEPS),
        help="comma list of the layers to run, in any order: a subset of bronze,silver,gold "
        "(default: all); each is idempotent on its own, so a scheduler can rerun just one",
    )
    return _common_options(p)


def parse_steps(text: str) -> tuple[str, ...]:
    """`bronze,gold` -> ("bronze", "gold") in layer order; unknown or empty names exit 2."""
    names = [n.strip() for n in text.split(",")]
    unknown = [n for n in names if n not in STEPS]
    if unknown or not names:
        raise UsageError(
            f"--steps {text!r}: unknown step(s) {', '.join(repr(n) for n in unknown)}; "
            f"choose from {','.join(STEPS)}"
        )
    return tuple(s for s in STEPS if s in names)


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
    # The job's story is its own lines: py4j's connection chatter is not part of it.
    logging.getLogger("py4j").setLevel(logging.WARNING)


@contextmanager
def logged_when_terminated(prog: str) -> Iterator[None]:
    """A SIGTERM (a scheduler's timeout, a cancelled task) still ends the process at once,
    as it would without the job (exit 143), but the job's log says so first: otherwise only
    Spark's shutdown errors tell of it, and they read like a failure of the data. Left to a
    handler already there (a platform's runner may have one)."""
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    ):
        yield
        return

    def say_and_stop(signum: int, frame: object) -> None:
        try:
            logging.getLogger("lakehouse").error(
                "%s stopped by SIGTERM before it finished: every table stays at a committed "
                "version; run it again to complete the work",
                prog,
            )
        finally:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(signal.SIGTERM, say_and_stop)
    try:
        yield
    finally:
        if signal.getsignal(signal.SIGTERM) is say_and_stop:  # not one installed meanwhile
            signal.signal(signal.SIGTERM, signal.SIG_DFL)


def parse_args(argv: Sequence[str], prog: str = "daily.py") -> tuple[Settings, list[date]]:
    """Validated settings and the dates to run, or `UsageError` naming the problem."""
    settings, days, _ = _parse(argv, prog)
    return settings, days


MAX_RANGE_DAYS = 3660  # ten years: a longer range is far more likely a typo than a backfill


def run_dates(args: argparse.Namespace) -> list[date]:
    """`--run-date D`, or every date of `--from D1 --to D2`, both ends included."""
    if args.run_date is not None:
        if args.date_from is not None or args.date_to is not None:
            raise UsageError("give either --run-date or --from/--to, not both")
        return [parse_run_date(args.run_date)]
    if args.date_from is None or args.date_to is None:
        raise UsageError("the following arguments are required: --run-date (or --from and --to)")
    first, last = parse_run_date(args.date_from), parse_run_date(args.date_to)
    if last < first:
        raise UsageError(f"--to {last} is before --from {first}")
    count = (last - first).days + 1
    if count > MAX_RANGE_DAYS:
        raise UsageError(f"--from {first} --to {last} spans {count} days, over {MAX_RANGE_DAYS}")
    return [first + timedelta(days=i) for i in range(count)]


def _parse(argv: Sequence[str], prog: str) -> tuple[Settings, list[date], argparse.Namespace]:
    args = _parser(prog).parse_args(list(argv))
    days = run_dates(args)
    args.steps = parse_steps(args.steps)
    settings = _settings(args, landing=args.landing)
    _check_folder("landing root", settings.landing, args.remote, must_exist=True)
    return settings, days, args


def _check_folder(what: str, path: str, remote: str | None, *, must_exist: bool) -> None:
    """A local folder the job reads or writes under is a folder. Over Spark Connect the paths
    are the server's, and a URI's are another file system's: this machine cannot check them."""
    local = None if remote is not None else local_path(path)
    if not local or os.path.isdir(local):  # an empty warehouse: managed tables, by the catalog
        return
    if os.path.exists(local):
        raise UsageError(f"{what} {path!r} is a file, not a folder")
    if (blocker := _not_a_folder_above(local)) is not None:
        raise UsageError(f"{what} {path!r} is below {blocker!r}, which is not a folder")
    if must_exist:
        raise UsageError(f"{what} {path!r} does not exist")


def _not_a_folder_above(path: str) -> str | None:
    """The nearest thing above a path that is not there, where it is not a folder (a file, a
    link to nothing): no folder can be made below it."""
    above = os.path.dirname(os.path.abspath(path))
    while not os.path.lexists(above):
        above = os.path.dirname(above)
    return None if os.path.isdir(above) else above


def _common_options(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options every entry point takes: where the tables are, the log format, Connect."""
    parser.add_argument("--warehouse", help="root of the Delta tables (default: from config)")
    parser.add_argument("--config", type=Path, help="YAML config (default: conf/local.yaml)")
    parser.add_argument(
        "--log-format", choices=("text", "json"), default="text", help="json for log shippers"
    )
    add_remote(parser)
    parser.add_argument(
        "--check",
        action="store_true",
        help="check the command line and config, then exit without starting Spark "
        "(scripts/spark-submit.sh does, so that a mistake is said at once, on stderr)",
    )
    return parser


def _entry_point(default_prog: str) -> Callable[[_Entry], Callable[..., int]]:
    """An entry point taking `argv` (default: the process's) and `prog`, where a bad command
    line or config (`UsageError`, raised before or inside the session) is exit status 2 with
    its one-line message."""

    def wrap(entry: _Entry) -> Callable[..., int]:
        @functools.wraps(entry)
        def run(argv: Sequence[str] | None = None, prog: str = default_prog) -> int:
            try:
                return entry(list(sys.argv[1:] if argv is None else argv), prog)
            except UsageError as exc:
                print(f"{prog}: error: {exc}", file=sys.stderr)
                return USAGE_EXIT

        return run

    return wrap


def _in_session(
    prog: str, args: argparse.Namespace, settings: Settings, app: str, work: Callable[..., int]
) -> int:
    """Everything an entry point does once its command line is valid: logging, the session
    (joined, or started and stopped here), the work, and a failure logged with exit 1."""
    if args.check:
        return 0
    configure_logging(args.log_format)
    # Imported here so that a bad command line never pays for (or waits on) a JVM.
    from lakehouse.session import job_session

    log = logging.getLogger("lakehouse")
    try:
        with (
            logged_when_terminated(prog),
            job_session(
                f"{settings.app_name}{app}", settings.spark_conf, remote=args.remote
            ) as spark,
        ):
            try:
                return work(spark)
            except UsageError:
                raise  # said as a usage error by the entry point
            except Exception:
                log.exception("%s failed", prog)
                return 1
    except NoSessionError as exc:
        log.error("%s failed: %s", prog, exc)
        return 1


@_entry_point("daily.py")
def main(argv: list[str], prog: str) -> int:
    """Run the daily job for one ingest date or a range (`jobs/daily.py`)."""
    settings, days, args = _parse(argv, prog)

    def work(spark: SparkSession) -> int:
        from lakehouse.run import run_dates

        try:
            run_dates(spark, settings, days, steps=args.steps)
        except QualityThresholdError as exc:
            logging.getLogger("lakehouse").error("over a quality threshold: %s", exc)
            return QUALITY_EXIT
        return 0

    return _in_session(prog, args, settings, "", work)


@_entry_point("report.py")
def report_main(argv: list[str], prog: str) -> int:
    """Print the SLA report of one ingest date (text, or JSON for machines)."""
    parser = _common_options(
        _Parser(prog=prog, description="Print the SLA report of one ingest date.")
    )
    parser.add_argument("--run-date", help="ingest date to report on, YYYY-MM-DD")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    args = parser.parse_args(argv)
    if args.run_date is None:
        raise UsageError("the following arguments are required: --run-date")
    day = parse_run_date(args.run_date)
    settings = _settings(args)

    def work(spark: SparkSession) -> int:
        from lakehouse import report

        built = report.build(spark, settings.tables, day)
        print(report.render_json(built) if args.format == "json" else report.render_text(built))
        return 0

    return _in_session(prog, args, settings, "-report", work)


@_entry_point("maintenance.py")
def maintenance_main(argv: list[str], prog: str) -> int:
    """Compact and vacuum every table; safe to run while a daily run is writing."""
    from lakehouse.maintenance import MAX_RETAIN_HOURS, MIN_RETAIN_HOURS

    parser = _common_options(
        _Parser(prog=prog, description="OPTIMIZE and VACUUM every table of the warehouse.")
    )
    parser.add_argument(
        "--retain-hours",
        type=int,
        help="VACUUM keeps files unreferenced for less than this "
        f"({MIN_RETAIN_HOURS} to {MAX_RETAIN_HOURS}; default {MIN_RETAIN_HOURS})",
    )
    parser.add_argument("--no-vacuum", action="store_true", help="compact only")
    args = parser.parse_args(argv)
    if args.retain_hours is not None and args.no_vacuum:
        raise UsageError("--retain-hours is VACUUM's, and --no-vacuum runs none: give one of them")
    if args.retain_hours is None:
        args.retain_hours = MIN_RETAIN_HOURS
    if args.retain_hours < MIN_RETAIN_HOURS:
        raise UsageError(
            f"--retain-hours {args.retain_hours} is under {MIN_RETAIN_HOURS}: files a "
            "running job still reads could be deleted"
        )
    if args.retain_hours > MAX_RETAIN_HOURS:
        raise UsageError(
            f"--retain-hours {args.retain_hours} is over {MAX_RETAIN_HOURS} (100 years): "
            "give --no-vacuum to keep every file"
        )
    settings = _settings(args)

    def work(spark: SparkSession) -> int:
        from lakehouse.maintenance import maintain

        maintain(spark, settings.tables, retain_hours=args.retain_hours, vacuum=not args.no_vacuum)
        return 0

    return _in_session(prog, args, settings, "-maintenance", work)


@_entry_point("restore.py")
def restore_main(argv: list[str], prog: str) -> int:
    """Undo runs: every table back to its versions before a run (or at the end of a date)."""
    parser = _common_options(
        _Parser(
            prog=prog, description="Bring every table back to the versions it had before a run."
        )
    )
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--before-run", metavar="RUN_ID", help="undo this run and every later one")
    target.add_argument(
        "--to-date", metavar="YYYY-MM-DD", help="back to the end of the last run of this date"
    )
    parser.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    args = parser.parse_args(argv)
    day = parse_run_date(args.to_date) if args.to_date is not None else None
    settings = _settings(args)

    def work(spark: SparkSession) -> int:
        from lakehouse import restore

        plan = (
            restore.plan_to_date(spark, settings.tables, day)
            if day is not None
            else restore.plan_before_run(spark, settings.tables, args.before_run)
        )
        print(("dry run: " if args.dry_run else "") + plan.render())
        if not args.dry_run:
            restore.apply(spark, settings.tables, plan)
        return 0

    return _in_session(prog, args, settings, "-restore", work)


@_entry_point("show_gold.py")
def show_gold_main(argv: list[str], prog: str) -> int:
    """Print every gold table (what `make run` shows after the sample)."""
    parser = _common_options(_Parser(prog=prog, description="Print every gold table."))
    args = parser.parse_args(argv)
    settings = _settings(args)

    def work(spark: SparkSession) -> int:
        from lakehouse import storage
        from lakehouse.tables import GOLD_TABLES

        for spec in GOLD_TABLES:
            frame = storage.read(spark, spec.table(settings.tables))
            key = [c for c in frame.columns if c.endswith("_id") or c == "event_date"][:2]
            print(f"\n== gold/{spec.name} ({frame.count()} rows)")
            frame.orderBy(*key, *frame.columns).show(100, truncate=False)
        return 0

    return _in_session(prog, args, settings, "-show-gold", work)


def _settings(args: argparse.Namespace, landing: str | None = None) -> Settings:
    """The config with the command line's paths, the Connect URL and the warehouse checked
    (a warehouse not there yet is made by the daily job's first run; the other entry points
    read one, so a path that is not there is a typo). Only the daily job, which takes
    `--landing`, needs a landing zone."""
    args.remote = parse_remote(args.remote)
    daily = "landing" in args
    settings = load_settings(
        args.config, landing=landing, warehouse=args.warehouse, landing_needed=daily
    )
    _check_folder("warehouse", settings.warehouse, args.remote, must_exist=not daily)
    return settings


def _exiting(entry: Callable[[], int]) -> Callable[[], None]:
    """A console script that ends the process with the exit status even where the caller
    ignores return values (a Databricks python_wheel_task calls the function itself)."""

    def run() -> None:
        code = entry()
        if code:
            raise SystemExit(code)

    run.__doc__ = entry.__doc__
    return run


daily_entry = _exiting(main)
report_entry = _exiting(report_main)
maintenance_entry = _exiting(maintenance_main)
restore_entry = _exiting(restore_main)
