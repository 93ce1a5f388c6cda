"""Bad command lines and configs exit 2 with one line naming the problem, before any JVM."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
from datetime import date
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql.connect.client.retries import DefaultPolicy

from lakehouse import restore, session
from lakehouse.cli import (
    _parse,
    logged_when_terminated,
    main,
    maintenance_main,
    parse_args,
    parse_remote,
    report_main,
    restore_main,
)
from lakehouse.config import load_settings, parse_run_date
from lakehouse.errors import InvalidRunDateError, UsageError
from lakehouse.session import connect_endpoint
from lakehouse.storage import date_predicate
from tests.helpers import WAREHOUSE_READERS, WarehouseReader
from tests.paths import ROOT


def _exit_and_message(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """The daily entry point's exit status and stderr: a bad command line never reaches Spark."""
    code = main(argv)
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    "bad", ["2025-02-30", "2025-3-1", "../x", "2025-03-01' OR '1'='1", "", "20250301"]
)
def test_bad_run_date_exits_2_naming_it(bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _exit_and_message(["--run-date", bad], capsys)
    assert code == 2
    assert err.count("\n") == 1
    assert f"invalid run date {bad!r}" in err


@pytest.mark.parametrize("option", ["--landing", "--warehouse"])
def test_an_empty_path_exits_2_naming_the_option(
    option: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not the config's path, nor the current directory, in its place."""
    code, err = _exit_and_message(["--run-date", "2025-03-01", option, " "], capsys)
    assert (code, err) == (2, f"daily.py: error: {option} is empty: give a path\n")


def test_unknown_option_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _exit_and_message(["--run-date", "2025-03-01", "--bogus"], capsys)
    assert (code, err.count("\n")) == (2, 1)
    assert "unrecognized arguments: --bogus" in err


def test_missing_run_date_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _exit_and_message([], capsys)
    assert (code, err.count("\n")) == (2, 1)
    assert "--run-date" in err


# A local folder as a path, and as the `file:` URIs Spark takes for it.
SPELLINGS = [pytest.param("", id="path"), pytest.param("file:", id="file:/"), "file://"]


@pytest.mark.parametrize("scheme", SPELLINGS)
def test_missing_landing_root_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], scheme: str
) -> None:
    missing = f"{scheme}{tmp_path / 'nowhere'}"
    code, err = _exit_and_message(["--run-date", "2025-03-01", "--landing", missing], capsys)
    assert (code, err.count("\n")) == (2, 1)
    assert f"landing root '{missing}' does not exist" in err


@pytest.mark.parametrize("scheme", SPELLINGS)
@pytest.mark.parametrize(
    ("option", "what"), [("--landing", "landing root"), ("--warehouse", "warehouse")]
)
@pytest.mark.parametrize(
    "below", ["", "/", "/sub/wh"], ids=["the-path", "with-a-slash", "above-it"]
)
def test_a_file_for_a_folder_exits_2_naming_it(
    option: str,
    what: str,
    below: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    scheme: str,
) -> None:
    """Not Spark's thousands of lines of a failed write under a file (Delta's "parent path
    is not a directory", exit 1, for a file higher up)."""
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    given = f"{scheme}{a_file}{below}"
    problem = (
        f"is below '{a_file}', which is not a folder"
        if below.strip("/")
        else "is a file, not a folder"
    )
    code, err = _exit_and_message(["--run-date", "2025-03-01", option, given], capsys)
    shown = given.rstrip("/")  # the config's paths are kept without a final slash
    assert (code, err) == (2, f"daily.py: error: {what} '{shown}' {problem}\n")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "cannot read"),
        (b"landing: caf\xe9\nwarehouse: b\n", "not UTF-8 text (byte 0xE9 at offset 12)"),
        ("landing: [unclosed", "not valid YAML"),
        ("landing: a\nwarehouse: b\nwarehuose: c\n", "unknown key 'warehuose'"),
        ("landing: a\nwarehouse: b\nwarehouse: c\n", "key 'warehouse' given twice (line 3)"),
        ("landing: a\nwarehouse: b\ncatalog: {name: x, name: y}\n", "key 'name' given twice"),
        ("landing: a\n", "missing key 'warehouse'"),
        ("landing: file:land\nwarehouse: b\n", "landing 'file:land': after its scheme a path"),
        ("landing: a\nwarehouse: 3\n", "key 'warehouse' must be a str, got int"),
        ("- a\n- b\n", "top level must be a mapping"),
        ("landing: a\nwarehouse: b\nspark_conf: [1]\n", "key 'spark_conf' must be a dict"),
        ("landing: a\nwarehouse: b\nspark_conf: {null: 1}\n", "spark_conf key None must be"),
        ("landing: a\nwarehouse: b\napp_name: ' '\n", "app_name is empty"),
        (
            "landing: a\nwarehouse: b\nspark_conf: {spark.sql.session.timeZone: CET}\n",
            "spark_conf.spark.sql.session.timeZone is fixed to 'UTC'",
        ),
        ("landing: a\nwarehouse: b\nsource_threads: 0\n", "source_threads must be a whole"),
        ("landing: a\nwarehouse: b\nsource_threads: true\n", "source_threads must be a whole"),
        ("landing: a\nwarehouse: b\nsource_threads: 2.0\n", "'source_threads' must be a int"),
        ("landing: a\nwarehouse: b\ncatalog: main\n", "key 'catalog' must be a dict"),
        ("landing: a\nwarehouse: b\ncatalog: {nmae: x}\n", "unknown key catalog.nmae"),
        ("landing: a\nwarehouse: b\ncatalog: {name: 'a.b'}\n", "catalog.name must be a name"),
        ("landing: a\nwarehouse: b\ncatalog: {name: 'x`; DROP'}\n", "catalog.name must be a"),
        ("landing: a\nwarehouse: b\ncatalog: {schemas: {gold: 'g-1'}}\n", "schemas.gold must"),
        ("landing: a\nwarehouse: b\ncatalog: {schemas: {golden: g}}\n", "unknown layer"),
        ("landing: a\nwarehouse: b\ncatalog: {managed: 'yes'}\n", "managed must be a bool"),
        ("landing: a\ncatalog: {managed: false}\n", "missing key 'warehouse'"),
        (
            "landing: a\nwarehouse: b\ncatalog: {schema_prefix: p, schemas: {gold: g}}\n",
            "catalog.schemas or catalog.schema_prefix, not both",
        ),
    ],
)
def test_bad_config_exits_2_naming_the_key(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: str | bytes | None,
    expected: str,
) -> None:
    config = tmp_path / "conf.yaml"
    if isinstance(content, bytes):
        config.write_bytes(content)
    elif content is not None:
        config.write_text(content)
    code, err = _exit_and_message(["--run-date", "2025-03-01", "--config", str(config)], capsys)
    assert (code, err.count("\n")) == (2, 1)
    assert expected in err


@pytest.mark.parametrize(
    "uri",
    ["s3a://bucket/wh", "abfss://c@acct.dfs.core.windows.net/wh", "dbfs:/mnt/wh", "file:/data/wh"],
)
def test_config_paths_are_relative_to_the_config_file(tmp_path: Path, uri: str) -> None:
    (tmp_path / "conf").mkdir()
    config = tmp_path / "conf" / "x.yaml"
    config.write_text(f"landing: ../land\nwarehouse: {uri}/\nspark_conf: {{a.b: 1}}\n")
    settings = load_settings(config)
    assert settings.landing == str((tmp_path / "land").resolve())
    assert settings.warehouse == uri
    assert dict(settings.spark_conf) == {"a.b": "1"}


def test_bundled_configs_load() -> None:
    for name in ("local.yaml", "prod.yaml"):
        settings = load_settings(ROOT / "conf" / name)
        assert settings.landing and settings.warehouse


def test_run_date_parses_to_a_date() -> None:
    assert parse_run_date("2024-02-29") == date(2024, 2, 29)
    with pytest.raises(InvalidRunDateError):
        parse_run_date("2025-02-29")


def test_replace_where_predicate_is_built_from_dates_only() -> None:
    """Text that slipped past the parse never reaches a predicate, however it is dressed."""
    with pytest.raises(TypeError, match="dates only"):
        date_predicate("event_date", [date(2025, 3, 1), "2025-03-02' OR TRUE OR '"])  # type: ignore[list-item]
    with pytest.raises(ValueError):
        date_predicate("event_date", [])


# No JVM can start under this: a command that exits 0 with it started none.
NO_JAVA = {**os.environ, "JAVA_HOME": "/nonexistent", "PATH": os.path.dirname(sys.executable)}


@pytest.mark.parametrize(
    "launcher",
    [[sys.executable], [str(ROOT / "scripts" / "spark-submit.sh")]],
    ids=["python", "spark-submit.sh"],
)
def test_whole_process_rejects_bad_date_before_spark_starts(launcher: list[str]) -> None:
    """The real entry point: exit 2 and one line on stderr, before any JVM (spark-submit's
    own would print its warnings on stderr, and the job's line on stdout)."""
    proc = subprocess.run(
        [*launcher, str(ROOT / "jobs" / "daily.py"), "--run-date", "2025-02-30"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (proc.returncode, proc.stdout) == (2, "")
    assert (
        proc.stderr
        == "daily.py: error: invalid run date '2025-02-30': expected a real date as YYYY-MM-DD\n"
    )


@pytest.mark.parametrize(
    ("job", "argv"),
    [
        pytest.param("daily", ["--run-date", "2025-03-01"], id="daily"),
        *(pytest.param(r.job, r.argv, id=r.job) for r in WAREHOUSE_READERS),
    ],
)
def test_check_accepts_a_good_command_line_without_starting_spark(
    job: str, argv: list[str], tmp_path: Path
) -> None:
    if job != "daily":  # the others read a warehouse, so it must be there
        argv = [*argv, "--warehouse", str(tmp_path)]
    proc = subprocess.run(
        [sys.executable, str(ROOT / "jobs" / f"{job}.py"), "--check", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        env=NO_JAVA,
        check=False,
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")


@pytest.mark.parametrize("job", ["daily", *(r.job for r in WAREHOUSE_READERS)])
@pytest.mark.parametrize(
    "setup",
    [
        # Installed: the package imports, one of its dependencies does not.
        pytest.param(["-c", "import sys; sys.modules['yaml'] = None; "], id="installed"),
        # A plain checkout without site-packages: neither the package nor its dependencies.
        pytest.param(["-S", "-c", ""], id="checkout"),
    ],
)
def test_a_jobs_script_says_which_dependency_is_missing(job: str, setup: list[str]) -> None:
    """Not hidden behind a second import error: the shims only fall back to the checkout's
    package when the package itself is missing."""
    script = ROOT / "jobs" / f"{job}.py"
    *flags, code = setup
    proc = subprocess.run(
        [
            sys.executable,
            *flags,
            f"{code}import runpy; runpy.run_path({str(script)!r}, run_name='__main__')",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert proc.stderr.count("Error") == 1, proc.stderr
    last = proc.stderr.rstrip().splitlines()[-1]
    assert last.startswith("ModuleNotFoundError:") and "yaml" in last, proc.stderr


def test_report_rejects_a_bad_date_with_exit_2(capsys: pytest.CaptureFixture[str]) -> None:

    assert report_main(["--run-date", "2025-13-01"]) == 2
    err = capsys.readouterr().err
    assert (
        err
        == "report.py: error: invalid run date '2025-13-01': expected a real date as YYYY-MM-DD\n"
    )


@pytest.mark.parametrize("option", [["--steps", "gold"], ["--from", "2025-03-01"]])
def test_report_rejects_the_daily_jobs_options_with_exit_2(
    option: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """The report reads one date's run log: a range or a step list would be ignored."""

    assert report_main(["--run-date", "2025-03-01", *option]) == 2
    err = capsys.readouterr().err
    assert err == f"report.py: error: unrecognized arguments: {' '.join(option)}\n"


def test_json_log_lines_are_json(capsys: pytest.CaptureFixture[str]) -> None:
    import json
    import logging

    from lakehouse.cli import configure_logging

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure_logging("json")
    try:
        logging.getLogger("lakehouse.run").info("bronze %s: %d loaded", "app_events", 2)
    finally:  # leave no handler bound to the captured stream, which pytest closes
        root.handlers[:] = handlers
        root.setLevel(level)
    line = capsys.readouterr().err.strip()
    entry = json.loads(line)
    assert {k: entry[k] for k in ("level", "logger", "message")} == {
        "level": "INFO",
        "logger": "lakehouse.run",
        "message": "bronze app_events: 2 loaded",
    }


def test_a_range_gives_every_date_in_order() -> None:
    _, days = parse_args(["--from", "2025-02-27", "--to", "2025-03-02"])
    assert days == [date(2025, 2, 27), date(2025, 2, 28), date(2025, 3, 1), date(2025, 3, 2)]
    _, days = parse_args(["--run-date", "2025-03-01"])
    assert days == [date(2025, 3, 1)]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--from", "2025-03-01"], "--run-date (or --from and --to)"),
        (["--to", "2025-03-01"], "--run-date (or --from and --to)"),
        (["--from", "2025-03-02", "--to", "2025-03-01"], "--to 2025-03-01 is before --from"),
        (["--run-date", "2025-03-01", "--from", "2025-03-01"], "either --run-date or --from"),
        (["--run-date", "2025-03-01", "--run-date=2025-03-02"], "--run-date given twice"),
        (["--run-date", "2025-03-01", "--run", "2025-03-02"], "--run-date given twice"),
        (["--run-date", "2025-03-01", "--config", "a", "--config", "b"], "--config given twice"),
        (["--from", "2025-03-01", "--to", "2025-02-30"], "invalid run date '2025-02-30'"),
        (["--from", "2000-01-01", "--to", "2025-03-01"], "days, over 3660"),
    ],
)
def test_bad_ranges_exit_2_naming_the_problem(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = _exit_and_message(argv, capsys)
    assert (code, err.count("\n")) == (2, 1)
    assert message in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--retain-hours", "1"], "--retain-hours 1 is under 168"),
        (["--retain-hours", "9999999999999"], "--retain-hours 9999999999999 is over 876000"),
        (["--retain-hours", "200", "--no-vacuum"], "--no-vacuum runs none"),
    ],
)
def test_maintenance_refuses_a_vacuum_retention_it_cannot_keep(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Refused before any table is touched: under Delta's safety floor, past what a
    retention means, or given where no VACUUM runs."""
    assert maintenance_main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert message in err


@pytest.mark.parametrize("reader", WAREHOUSE_READERS, ids=lambda r: r.job)
def test_an_entry_point_reading_a_warehouse_that_is_not_there_exits_2_naming_it(
    reader: WarehouseReader, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only the daily job makes a warehouse; for the others a missing one is a typo."""
    missing = str(tmp_path / "wh-typo")
    assert reader.main([*reader.argv, "--warehouse", missing]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"warehouse {missing!r} does not exist" in err


def test_restore_needs_exactly_one_target_and_a_real_date(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert restore_main([]) == 2
    assert restore_main(["--before-run", "x", "--to-date", "2025-03-01"]) == 2
    assert restore_main(["--to-date", "2025-02-30"]) == 2
    assert "invalid run date '2025-02-30'" in capsys.readouterr().err


def test_a_run_id_not_in_the_run_log_exits_2_with_one_line_after_the_session(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A usage error found inside the session (the run log has no such run) is said like one
    found on the command line: one line, exit 2, not a logged failure with exit 1."""
    monkeypatch.setattr(session, "job_session", lambda *a, **k: contextlib.nullcontext(None))

    def not_in_the_log(spark: object, warehouse: object, run_id: str) -> None:
        raise restore.UnknownRunError(f"run {run_id!r} is not in the run log")

    monkeypatch.setattr(restore, "plan_before_run", not_in_the_log)
    assert restore_main(["--before-run", "r-1", "--warehouse", str(tmp_path)]) == 2
    assert capsys.readouterr().err == "restore.py: error: run 'r-1' is not in the run log\n"


@pytest.mark.parametrize(
    "remote",
    ["localhost:15002", "http://host:15002", "sc://", "sc://h:notaport", "sc://h:70000", "sc://:1"],
)
def test_a_remote_that_is_not_a_connect_url_exits_2_naming_it(
    remote: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SPARK_REMOTE", raising=False)
    code, err = _exit_and_message(["--run-date", "2025-03-01", "--remote", remote], capsys)
    assert (code, err.count("\n")) == (2, 1)
    assert f"--remote {remote!r}" in err
    monkeypatch.setenv("SPARK_REMOTE", remote)
    assert maintenance_main([]) == 2
    assert f"SPARK_REMOTE {remote!r}" in capsys.readouterr().err


@pytest.mark.parametrize(
    "remote",
    ["sc://h", "sc://h:15002", "sc://[::1]:15002", "sc://w.cloud.databricks.com:443/;token=t"],
)
def test_a_connect_url_passes_as_given_and_an_empty_spark_remote_is_none(
    remote: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert parse_remote(remote) == remote
    monkeypatch.setenv("SPARK_REMOTE", "")
    assert parse_remote(None) is None


def test_a_connect_url_reaches_the_session_and_local_paths_are_the_servers(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Over Connect the landing path is the server's: this machine does not check it."""
    monkeypatch.delenv("SPARK_REMOTE", raising=False)
    argv = ["--run-date", "2025-03-01", "--landing", str(tmp_path / "not-here")]
    with pytest.raises(UsageError, match="does not exist"):
        parse_args(argv)
    settings, days, args = _parse([*argv, "--remote", "sc://h:15002"], "daily.py")
    assert (args.remote, days, settings.landing) == (
        "sc://h:15002",
        [date(2025, 3, 1)],
        str(tmp_path / "not-here"),
    )
    monkeypatch.setenv("SPARK_REMOTE", "sc://env:1")
    assert _parse(argv, "daily.py")[2].remote == "sc://env:1"


def test_a_sigterm_is_said_in_the_job_s_log_and_still_ends_the_process_at_once() -> None:
    """What a scheduler's timeout sends: the process ends by the signal, as without the job,
    after one line of the job's own naming it."""
    script = (
        "import os, signal, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_DFL)  # whatever the test runner ignores\n"
        "from lakehouse.cli import configure_logging, logged_when_terminated\n"
        "configure_logging('text')\n"
        "with logged_when_terminated('daily.py'):\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    time.sleep(10)\n"
        "    print('not stopped')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert (proc.returncode, proc.stdout) == (-signal.SIGTERM, "")
    assert proc.stderr.endswith(
        " ERROR lakehouse: daily.py stopped by SIGTERM before it finished: every table stays at "
        "a committed version; run it again to complete the work\n"
    )


def test_the_sigterm_line_leaves_other_handlers_and_threads_alone() -> None:
    """A handler already there (a platform's runner) is left to handle the signal; off the
    main thread (a notebook's worker) Python allows no handler; after the job, the signal's
    default is back."""

    def platforms(signum: int, frame: object) -> None:
        raise AssertionError("not sent here")

    before = signal.signal(signal.SIGTERM, platforms)
    try:
        with logged_when_terminated("daily.py"):
            assert signal.getsignal(signal.SIGTERM) is platforms
        assert signal.getsignal(signal.SIGTERM) is platforms
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        seen: list[object] = []

        def in_a_thread() -> None:
            with logged_when_terminated("daily.py"):
                seen.append(signal.getsignal(signal.SIGTERM))

        worker = threading.Thread(target=in_a_thread)
        worker.start()
        worker.join()
        assert seen == [signal.SIG_DFL]
        with logged_when_terminated("daily.py"):
            assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    finally:
        signal.signal(signal.SIGTERM, before)


def _job_lines(err: str) -> list[str]:
    """The job's own log lines (what follows `lakehouse: `), without the engine's."""
    return [line.split(" lakehouse: ", 1)[1] for line in err.splitlines() if " lakehouse: " in line]


@pytest.mark.filterwarnings("ignore:.*RETRIES_EXCEEDED:UserWarning")
def test_a_connect_server_that_does_not_answer_is_one_logged_line_and_exit_1(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing listens at the address: once Spark Connect's retries are spent (none here;
    ten minutes or more by default), the job's log names the server in one line, with no
    traceback and no token from the URL, and the run fails with exit 1."""
    monkeypatch.delenv("SPARK_REMOTE", raising=False)
    # PySpark marks its process as a Connect client in the environment, which must be undone
    # afterwards, or this worker's later sessions (and the processes it starts) would be
    # Connect's too: monkeypatch restores only a variable it has set, so it sets it first.
    monkeypatch.setenv("SPARK_CONNECT_MODE_ENABLED", "")
    monkeypatch.delenv("SPARK_CONNECT_MODE_ENABLED")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again below: nothing listens there
    spent_at_once = DefaultPolicy.__init__
    monkeypatch.setattr(
        DefaultPolicy,
        "__init__",
        lambda self, **given: spent_at_once(self, **{**given, "max_retries": 0}),
    )
    remote = f"sc://127.0.0.1:{port}/;token=not-for-the-log"

    code = main(["--run-date", "2025-03-01", "--remote", remote])

    err = capsys.readouterr().err
    assert code == 1
    assert _job_lines(err) == [
        f"connecting to the Spark Connect server at 127.0.0.1:{port} (one that does not "
        "answer is retried for ten minutes or more, as Spark Connect retries)",
        f"daily.py failed: no session from the Spark Connect server at 127.0.0.1:{port}: "
        "gRPC UNAVAILABLE (nothing answered there, after Spark Connect's retries)",
    ]
    assert "Traceback" not in err
    assert "not-for-the-log" not in err
    # Closed, with nothing left for the process's exit to retry against the server.
    assert SparkSession.getActiveSession() is None


def test_a_jvm_that_cannot_start_is_one_logged_line_and_exit_1(tmp_path: Path) -> None:
    """No Java where JAVA_HOME points: the run fails with exit 1 and the job's log says
    Spark did not start, in one line after Java's own complaint, not a traceback."""
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "jobs" / "daily.py"),
            "--run-date",
            "2025-03-01",
            "--warehouse",
            str(tmp_path / "wh"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "JAVA_HOME": str(tmp_path / "no-java")},
    )
    assert (proc.returncode, proc.stdout) == (1, "")
    assert _job_lines(proc.stderr) == [
        "daily.py failed: Spark did not start: [JAVA_GATEWAY_EXITED] Java gateway process "
        "exited before sending its port number."
    ]
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "wh").exists()


@pytest.mark.parametrize(
    ("remote", "endpoint"),
    [
        ("sc://h", "h:15002"),
        (
            "sc://dbc-1.cloud.databricks.com:443/;token=dapi123;x-databricks-cluster-id=c",
            "dbc-1.cloud.databricks.com:443",
        ),
        ("sc://[::1]:15003", "[::1]:15003"),
    ],
)
def test_the_connect_endpoint_logged_is_host_and_port_alone(remote: str, endpoint: str) -> None:
    assert connect_endpoint(remote) == endpoint
