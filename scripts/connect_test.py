"""`make connect-test`: the job over Spark Connect, compared with local mode.

Starts a Spark Connect server on loopback from the installed pyspark's own jars
(`org.apache.spark.sql.connect.service.SparkConnectServer` through spark-submit, with the
Delta jars, Delta's SQL extension and catalog configured on the server: what a platform's
Connect endpoint provides). Then, each as its own process talking gRPC to it:

1. the sample's dates with `jobs/daily.py --remote sc://...` from `.venv-client`, a virtual
   environment holding only `pyspark-client` (no JVM side, no py4j, no delta-spark);
2. one date again, from the project's environment, with `$SPARK_REMOTE` instead of
   `--remote`;
3. the SLA report and maintenance (OPTIMIZE, VACUUM, the gold feature check) the same way;
4. a restore to the end of the third date, and the last date run again.

The server is stopped whatever happens. Then the same dates run in local mode here, and
every table (the run log aside) is compared whole. Exit 0 when all are equal, 1 otherwise.
Everything goes under one temp dir, removed on success and kept, with the logs' tails
printed, on failure.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent)]
from cluster_test import (  # noqa: E402
    FIRST,
    HOST,
    LANDING,
    LAST,
    ROOT,
    check_against_local_mode,
    check_locally,
    free_port,
    java_home,
    spark_home,
    stop_on_signals,
    tail,
)

CLIENT_PYTHON = Path(os.environ.get("CLIENT_PYTHON", ROOT / ".venv-client" / "bin" / "python"))
RERUN = "2025-03-02"
UNDO_TO = "2025-03-03"  # restore to the end of this date, then run the last one again


def say(message: str) -> None:
    print(f"connect-test: {message}", flush=True)


class ConnectServer:
    """One Spark Connect server (a local[2] Spark driver serving gRPC), in its own process
    group so that stopping it stops every process it started."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.port = free_port()
        self.url = f"sc://{HOST}:{self.port}"
        self.log = base / "server.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        from lakehouse.session import DELTA_CONF, LOCAL_TEST_CONF, delta_packages, installed_jars

        scratch = self.base / "server-local"
        scratch.mkdir()
        conf = {
            **DELTA_CONF,
            **{k: v for k, v in LOCAL_TEST_CONF.items() if not k.startswith("spark.driver.")},
            "spark.connect.grpc.binding.address": HOST,
            "spark.connect.grpc.binding.port": str(self.port),
            "spark.local.dir": str(scratch),
            "spark.log.level": "WARN",
            "spark.sql.warehouse.dir": str(scratch / "spark-warehouse"),
            "spark.driver.extraJavaOptions": (
                f"{LOCAL_TEST_CONF['spark.driver.extraJavaOptions']} "
                f"-Djava.io.tmpdir={scratch} -Dderby.system.home={scratch}"
            ),
        }
        jars = installed_jars()
        command = [
            str(spark_home() / "bin" / "spark-submit"),
            "--master",
            "local[2]",
            "--driver-memory",
            "2g",
            "--class",
            "org.apache.spark.sql.connect.service.SparkConnectServer",
            "--name",
            "lakehouse-connect-test",
            *(["--jars", ",".join(jars)] if jars else ["--packages", delta_packages()]),
        ]
        for key, value in conf.items():
            command += ["--conf", f"{key}={value}"]
        return [*command, "spark-internal"]

    def start(self, timeout_s: float = 180.0) -> None:
        env = {
            **os.environ,
            "SPARK_HOME": str(spark_home()),
            "JAVA_HOME": os.environ.get("JAVA_HOME") or java_home(),
            "SPARK_LOCAL_IP": HOST,
            "SPARK_CONF_DIR": str(self.base / "conf"),  # none: Spark's defaults
            "PYSPARK_PYTHON": sys.executable,
        }
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                self.command(),
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the Connect server exited {self.proc.returncode}")
            with socket.socket() as s:
                if s.connect_ex((HOST, self.port)) == 0:
                    return
            time.sleep(0.5)
        raise RuntimeError(f"the Connect server did not listen on {self.port} in {timeout_s}s")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        for sig, wait_s in ((signal.SIGTERM, 20.0), (signal.SIGKILL, 10.0)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.proc.wait(timeout=wait_s)
                return
            except subprocess.TimeoutExpired:
                continue


def client(python: Path, script: str, args: list[str], env: dict[str, str], log: Path) -> int:
    """One entry point as its own process; its output goes to `log` and is echoed."""
    say(f"{python.parent.parent.name}: {script} {' '.join(args)}")
    proc = subprocess.run(
        [str(python), str(ROOT / "jobs" / script), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    log.write_text(proc.stdout + proc.stderr, encoding="utf-8")
    for line in (proc.stdout + proc.stderr).splitlines():
        if " lakehouse" in line or "error" in line.lower() or not line.startswith("20"):
            print(f"    {line}", flush=True)
    return proc.returncode


def client_has_no_jvm_side(python: Path) -> list[str]:
    """The client environment really is client-only: no py4j, no jars, no delta-spark."""
    probe = (
        "import importlib.util as u, pathlib, pyspark;"
        "jars = pathlib.Path(pyspark.__file__).parent / 'jars';"
        "print(u.find_spec('py4j') is None, u.find_spec('delta') is None, not jars.exists())"
    )
    out = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, check=True)
    if out.stdout.split() != ["True", "True", "True"]:
        return [f"{python} is not client-only (no py4j, no delta, no jars: {out.stdout.strip()})"]
    return []


def run_over_connect(server: ConnectServer, warehouse: Path) -> list[str]:
    wh = ["--warehouse", str(warehouse)]
    paths = ["--landing", str(LANDING), *wh]
    remote = ["--remote", server.url]
    base_env = {k: v for k, v in os.environ.items() if k != "SPARK_REMOTE"}
    # The client process has only pyspark-client: the package comes from the checkout.
    client_env = {**base_env, "PYTHONPATH": str(ROOT / "src")}
    problems = client_has_no_jvm_side(CLIENT_PYTHON)
    steps: list[tuple[Path, str, list[str], dict[str, str]]] = [
        (
            CLIENT_PYTHON,
            "daily.py",
            ["--from", FIRST.isoformat(), "--to", LAST.isoformat(), *paths, *remote],
            client_env,
        ),
        (
            Path(sys.executable),
            "daily.py",
            ["--run-date", RERUN, *paths],
            {**base_env, "SPARK_REMOTE": server.url},
        ),
        (CLIENT_PYTHON, "report.py", ["--run-date", LAST.isoformat(), *wh, *remote], client_env),
        (CLIENT_PYTHON, "maintenance.py", [*wh, *remote], client_env),
        # Undo the last date, then run it again: the tables end as a run of every date.
        (CLIENT_PYTHON, "restore.py", ["--to-date", UNDO_TO, *wh, *remote], client_env),
        (CLIENT_PYTHON, "daily.py", ["--run-date", LAST.isoformat(), *paths, *remote], client_env),
    ]
    for i, (python, script, args, env) in enumerate(steps, start=1):
        code = client(python, script, args, env, server.base / f"client-{i}.log")
        if code != 0:
            problems.append(f"{script} {' '.join(args)} over Connect exited {code}")
            break
    return problems


def main() -> int:
    base = Path(tempfile.mkdtemp(prefix="lakehouse-connect-"))
    say(f"working under {base}")

    stop_on_signals()
    server = ConnectServer(base)
    problems: list[str] = []
    started = time.monotonic()
    try:
        try:
            server.start()
            say(f"server {server.url} listening ({time.monotonic() - started:.0f}s)")
            problems += run_over_connect(server, base / "warehouse-connect")
        finally:
            server.stop()
            say("server stopped")
        if not problems:
            problems += check_locally(
                base,
                lambda spark: check_against_local_mode(
                    spark, base / "warehouse-connect", base / "warehouse-local", "Connect"
                ),
            )
    except Exception as exc:
        problems.append(f"{type(exc).__name__}: {exc}")
    elapsed = time.monotonic() - started
    if problems:
        for log in sorted(base.glob("*.log")):
            print(f"\n===== tail of {log}")
            print(tail(log, 60))
        print()
        for problem in problems:
            say(f"FAILED: {problem}")
        say(f"logs and warehouses kept under {base} ({elapsed:.0f}s)")
        return 1
    shutil.rmtree(base, ignore_errors=True)
    say(f"passed: every table over Connect equals the local-mode run ({elapsed:.0f}s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
