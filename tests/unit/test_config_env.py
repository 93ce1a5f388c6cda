"""Environment variables in the config (`${NAME}`, `${NAME:-default}`), the bundled object-
storage examples, and running without a config file (an installed wheel). No Spark here."""

from __future__ import annotations

from pathlib import Path

import pytest

import lakehouse.config
from lakehouse.cli import (
    main,
    parse_args,
)
from lakehouse.config import expand_env_vars, load_settings
from lakehouse.errors import ConfigError
from tests.helpers import WAREHOUSE_READERS, write_config
from tests.paths import ROOT, SAMPLE_LANDING

VARS = (
    "LH_TEST_BUCKET",
    "LH_TEST_EMPTY",
    "LH_TEST_PARTS",
    "LAKEHOUSE_LANDING",
    "LAKEHOUSE_WAREHOUSE",
    "LAKEHOUSE_STORAGE_ACCOUNT",
    "LAKEHOUSE_CONTAINER",
    "LAKEHOUSE_LANDING_CONTAINER",
    "LAKEHOUSE_LINEAGE",
    "OPENLINEAGE_URL",
    "AWS_REGION",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in VARS:
        monkeypatch.delenv(name, raising=False)


def test_variables_are_expanded_in_paths_and_spark_conf(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LH_TEST_BUCKET", "acme-data")
    monkeypatch.setenv("LH_TEST_PARTS", "8")
    config = write_config(
        tmp_path,
        "landing: s3a://${LH_TEST_BUCKET}/landing/\n"
        "warehouse: s3a://${LH_TEST_BUCKET}-${LH_TEST_UNSET:-wh}/warehouse\n"
        "app_name: job-${LH_TEST_BUCKET}\n"
        "spark_conf:\n"
        "  spark.sql.shuffle.partitions: ${LH_TEST_PARTS}\n"
        "  spark.hadoop.fs.s3a.endpoint.region: ${LH_TEST_EMPTY:-eu-west-1}\n"
        "  spark.x: 3\n",
    )
    settings = load_settings(config)
    assert settings.landing == "s3a://acme-data/landing"
    assert settings.warehouse == "s3a://acme-data-wh/warehouse"
    assert settings.app_name == "job-acme-data"
    assert dict(settings.spark_conf) == {
        "spark.sql.shuffle.partitions": "8",
        "spark.hadoop.fs.s3a.endpoint.region": "eu-west-1",
        "spark.x": "3",
    }


@pytest.mark.parametrize(
    ("env", "text", "expected"),
    [
        ({"A": "x"}, "${A:-d}", "x"),
        ({}, "${A:-d}", "d"),
        ({"A": ""}, "${A:-d}", "d"),  # like a shell's :- an empty value takes the default
        ({}, "${A:-}", ""),
        ({}, "pre-${A:-a/b:c}-post", "pre-a/b:c-post"),
        ({"A": "${B}"}, "${A}", "${B}"),  # expanded text is not expanded again
        ({"A": "x"}, "$${A} and ${A}", "${A} and x"),  # $${...} is a literal ${...}
        ({}, "no variables, $HOME and $ alone", "no variables, $HOME and $ alone"),
    ],
)
def test_expansion_rules(env: dict[str, str], text: str, expected: str) -> None:
    assert expand_env_vars(text, "where", env) == expected


def test_lists_and_nested_mappings_are_walked_and_keys_left_alone() -> None:
    value = {"${K}": ["${A}", 1, {"b": "${A:-z}"}], "n": None, "t": True}
    assert expand_env_vars(value, "w", {"A": "a"}) == {
        "${K}": ["a", 1, {"b": "a"}],
        "n": None,
        "t": True,
    }


@pytest.mark.parametrize(
    ("env", "text", "message"),
    [
        ({}, "s3a://${LH_TEST_BUCKET}/x", "where: environment variable LH_TEST_BUCKET is not set"),
        ({"LH_TEST_EMPTY": ""}, "${LH_TEST_EMPTY}", "environment variable LH_TEST_EMPTY is empty"),
        ({}, "${1BAD}", "bad variable reference '${1BAD}'"),
        ({}, "${A:default}", "bad variable reference '${A:default}'"),
        ({}, "${A", "unclosed variable reference in '${A'"),
        ({"A": "x"}, "${A}/${B", "unclosed variable reference"),
    ],
)
def test_bad_references_are_config_errors(env: dict[str, str], text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("$", r"\$").replace("{", r"\{")):
        expand_env_vars(text, "where", env)


def test_missing_variable_exits_2_with_one_line_naming_it_and_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, "landing: ${LH_TEST_BUCKET}/landing\nwarehouse: /tmp/wh\n")
    assert main(["--run-date", "2025-03-01", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"config '{config}': landing: environment variable LH_TEST_BUCKET is not set" in err


def test_a_value_given_on_the_command_line_needs_no_variable(tmp_path: Path) -> None:
    """--warehouse wins over the file, so the file's variable for it is not required."""
    config = write_config(
        tmp_path, "landing: ${LH_TEST_BUCKET:-/l}\nwarehouse: ${LH_TEST_BUCKET}\n"
    )
    settings = load_settings(config, warehouse=str(tmp_path / "wh"))
    assert (settings.landing, settings.warehouse) == ("/l", str(tmp_path / "wh"))
    with pytest.raises(ConfigError, match="warehouse: environment variable LH_TEST_BUCKET"):
        load_settings(config)


def test_s3_example_uses_its_defaults_and_takes_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = load_settings(ROOT / "conf" / "prod.yaml")
    assert settings.landing == "s3a://retail-lakehouse-landing/landing"
    assert settings.warehouse == "s3a://retail-lakehouse/warehouse"
    assert settings.spark_conf["spark.hadoop.fs.s3a.endpoint.region"] == "eu-west-1"
    assert not settings.lineage.enabled
    monkeypatch.setenv("LAKEHOUSE_WAREHOUSE", "s3a://other-bucket/wh/")
    monkeypatch.setenv("AWS_REGION", "us-east-2")
    settings = load_settings(ROOT / "conf" / "prod.yaml")
    assert settings.warehouse == "s3a://other-bucket/wh"
    assert settings.spark_conf["spark.hadoop.fs.s3a.endpoint.region"] == "us-east-2"


def test_adls_example_requires_its_storage_account(monkeypatch: pytest.MonkeyPatch) -> None:
    config = ROOT / "conf" / "prod-azure.yaml"
    with pytest.raises(ConfigError, match="environment variable LAKEHOUSE_STORAGE_ACCOUNT"):
        load_settings(config)
    monkeypatch.setenv("LAKEHOUSE_STORAGE_ACCOUNT", "retailprod")
    monkeypatch.setenv("LAKEHOUSE_CONTAINER", "gold-zone")
    settings = load_settings(config)
    assert settings.landing == "abfss://landing@retailprod.dfs.core.windows.net/landing"
    assert settings.warehouse == "abfss://gold-zone@retailprod.dfs.core.windows.net/warehouse"
    assert settings.spark_conf["spark.hadoop.fs.azure.account.auth.type"] == "OAuth"


def test_without_a_config_file_the_command_line_gives_both_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An installed wheel has no conf/local.yaml: --landing and --warehouse then suffice
    (--warehouse alone where the landing zone is not read), and leaving one out is a usage
    error saying so."""
    monkeypatch.setattr(lakehouse.config, "DEFAULT_CONFIG", tmp_path / "absent" / "local.yaml")
    settings, days = parse_args(
        ["--run-date", "2025-03-01", "--landing", str(SAMPLE_LANDING), "--warehouse", "wh"]
    )
    assert [d.isoformat() for d in days] == ["2025-03-01"]
    assert settings.landing == str(SAMPLE_LANDING)
    assert settings.warehouse == str(Path.cwd() / "wh")
    assert (settings.app_name, dict(settings.spark_conf)) == ("lakehouse-daily", {})
    assert main(["--run-date", "2025-03-01", "--landing", str(SAMPLE_LANDING)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "give --config FILE, or both --landing and --warehouse" in err
    # The entry points that do not read the landing zone need only the warehouse.
    for reader in WAREHOUSE_READERS:
        assert reader.main(["--check", *reader.argv, "--warehouse", str(tmp_path)]) == 0
        assert reader.main(["--check", *reader.argv]) == 2
        assert capsys.readouterr().err.endswith("give --config FILE, or --warehouse\n")
    only_the_warehouse = write_config(tmp_path, "warehouse: wh\n")
    settings = load_settings(only_the_warehouse, landing_needed=False)
    assert (settings.landing, settings.warehouse) == ("", str(tmp_path / "wh"))
