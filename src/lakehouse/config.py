"""Settings from one YAML file plus command-line overrides, validated once."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from lakehouse.errors import ConfigError, InvalidRunDateError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = PROJECT_ROOT / "conf" / "local.yaml"

_RUN_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_URI = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")

_KEYS: dict[str, type] = {
    "landing": str,
    "warehouse": str,
    "app_name": str,
    "spark_conf": dict,
    "max_quarantined_share": dict,
}
_SOURCE_NAMES = ("crm_customer_updates", "order_updates", "app_events", "ticket_events")
_REQUIRED = ("landing", "warehouse")


@dataclass(frozen=True)
class Settings:
    """Everything a run needs to know besides the date."""

    landing: str
    warehouse: str
    app_name: str = "lakehouse-daily"
    spark_conf: Mapping[str, str] = field(default_factory=dict)
    # Per source, the largest share (0..1) of a day's rows that may be quarantined before the
    # run fails; a source not listed has no threshold.
    max_quarantined_share: Mapping[str, float] = field(default_factory=dict)


def parse_run_date(text: str) -> date:
    """Turn user text into a `date`; nothing else ever reaches a path or a predicate."""
    if not _RUN_DATE.fullmatch(text):
        raise InvalidRunDateError(text)
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise InvalidRunDateError(text) from exc


def is_uri(path: str) -> bool:
    """True for `s3a://...`, `abfss://...`, `file:///...`: paths we must not resolve locally."""
    return bool(_URI.match(path))


def _resolve(path: str, base: Path) -> str:
    if is_uri(path):
        return path.rstrip("/")
    p = Path(path).expanduser()
    return str(p if p.is_absolute() else (base / p).resolve())


def load_settings(
    config_path: Path | None = None,
    *,
    landing: str | None = None,
    warehouse: str | None = None,
) -> Settings:
    """Read the YAML file; relative paths in it are relative to the file, so it works from any cwd.

    Command-line overrides are relative to the current directory, as a user expects.
    """
    path = config_path or DEFAULT_CONFIG
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"config {str(path)!r}: cannot read: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "invalid YAML"
        raise ConfigError(f"config {str(path)!r}: not valid YAML: {first}") from exc
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"config {str(path)!r}: top level must be a mapping of keys")
    values = _validated(raw, str(path))
    base = path.resolve().parent
    spark_conf = {str(k): _conf_value(v) for k, v in values.get("spark_conf", {}).items()}
    return Settings(
        landing=_resolve(landing, Path.cwd()) if landing else _resolve(values["landing"], base),
        warehouse=(
            _resolve(warehouse, Path.cwd()) if warehouse else _resolve(values["warehouse"], base)
        ),
        app_name=values.get("app_name", "lakehouse-daily"),
        spark_conf=spark_conf,
        max_quarantined_share={
            str(k): float(v) for k, v in values.get("max_quarantined_share", {}).items()
        },
    )


def _validated(raw: dict[Any, Any], where: str) -> dict[str, Any]:
    unknown = sorted(str(k) for k in raw if k not in _KEYS)
    if unknown:
        raise ConfigError(
            f"config {where!r}: unknown key {unknown[0]!r} (known: {', '.join(sorted(_KEYS))})"
        )
    for key in _REQUIRED:
        if raw.get(key) in (None, ""):
            raise ConfigError(f"config {where!r}: missing key {key!r}")
    for key, value in raw.items():
        expected = _KEYS[key]
        if value is not None and not isinstance(value, expected):
            raise ConfigError(
                f"config {where!r}: key {key!r} must be a {expected.__name__}, "
                f"got {type(value).__name__}"
            )
    for k, v in (raw.get("spark_conf") or {}).items():
        if not isinstance(v, str | int | float | bool):
            raise ConfigError(f"config {where!r}: spark_conf.{k} must be a scalar")
    for k, v in (raw.get("max_quarantined_share") or {}).items():
        if k not in _SOURCE_NAMES:
            raise ConfigError(
                f"config {where!r}: unknown source max_quarantined_share.{k} "
                f"(known: {', '.join(_SOURCE_NAMES)})"
            )
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v <= 1:
            raise ConfigError(
                f"config {where!r}: max_quarantined_share.{k} must be a number from 0 to 1"
            )
    return {k: v for k, v in raw.items() if v is not None}


def _conf_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
