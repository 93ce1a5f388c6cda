"""Settings from one YAML file plus command-line overrides, validated once."""

from __future__ import annotations

import os
import re
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from lakehouse.errors import ConfigError, InvalidRunDateError, UsageError
from lakehouse.files import is_relative_uri, is_uri
from lakehouse.lineage import OpenLineage, merge_conf, openlineage_conf
from lakehouse.sources import SOURCE_NAMES
from lakehouse.warehouse import LAYERS, Catalog, Warehouse, default_schemas

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = PROJECT_ROOT / "conf" / "local.yaml"
# Settings the tables' contents depend on: a config may not change them (lakehouse.session
# sets them on every session, one it joins included).
PINNED_SPARK_CONF: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    # Timestamps as Parquet's 64-bit microseconds, not Spark's default INT96: gold's other
    # readers (delta-rs, pandas, Polars) read INT96 as nanoseconds, which hold only the years
    # 1677-2262, and the contract's formats accept any year from 0001 to 9999.
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
}
# The layers a run does, in order; `--steps` picks a subset (a scheduler's separate tasks).
STEPS: tuple[str, ...] = ("bronze", "silver", "gold")

_RUN_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

_KEYS: dict[str, type] = {
    "landing": str,
    "warehouse": str,
    "app_name": str,
    "spark_conf": dict,
    "max_quarantined_share": dict,
    "lineage": dict,
    "source_threads": int,
    "catalog": dict,
}
_CATALOG_KEYS: dict[str, type] = {
    "name": str,
    "schemas": dict,
    "schema_prefix": str,
    "managed": bool,
}
# A catalog, schema or table name: letters, digits and underscores (quoted in SQL anyway).
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPENLINEAGE_KEYS: dict[str, type] = {
    "enabled": bool,
    "url": str,
    "endpoint": str,
    "namespace": str,
    "version": str,
}
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
    # Opt-in OpenLineage listener; when enabled its settings are already in `spark_conf`.
    lineage: OpenLineage = field(default_factory=OpenLineage)
    # How many sources a run processes at once (1 = one after another). The sources share no
    # table, and most of a step's time is the driver planning and committing, so the sources
    # overlap well even on two cores.
    source_threads: int = len(SOURCE_NAMES)
    # Tables by name in a catalog (None: by path under `warehouse`).
    catalog: Catalog | None = None

    @property
    def tables(self) -> Warehouse:
        """Where the job's tables are, by path or by name."""
        return Warehouse(self.warehouse, self.catalog)


def parse_run_date(text: str) -> date:
    """Turn user text into a `date`; nothing else ever reaches a path or a predicate."""
    if not _RUN_DATE.fullmatch(text):
        raise InvalidRunDateError(text)
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise InvalidRunDateError(text) from exc


def _resolve(what: str, path: str, base: Path) -> str:
    """A URI as it is; a local path made absolute against `base`."""
    if is_uri(path):
        return path.rstrip("/")
    if is_relative_uri(path):
        raise ConfigError(f"{what} {path!r}: after its scheme a path starts with '/' (file:/x)")
    p = Path(path).expanduser()
    return str(p if p.is_absolute() else (base / p).resolve())


def load_settings(
    config_path: Path | None = None,
    *,
    landing: str | None = None,
    warehouse: str | None = None,
    landing_needed: bool = True,
) -> Settings:
    """Read the YAML file; relative paths in it are relative to the file, so it works from any cwd.

    Command-line overrides are relative to the current directory, as a user expects. String
    values may name environment variables, `${NAME}` or `${NAME:-default}` (expanded once,
    when the file is read; a value given on the command line is not read from the file).
    Without `--config`, `conf/local.yaml` of the checkout is read; an installed package has
    none, and then `--landing` and `--warehouse` must be given (`--warehouse` alone where the
    landing zone is not read: `landing_needed=False`, the landing then empty unless configured).
    """
    for option, given in (("--landing", landing), ("--warehouse", warehouse)):
        if given is not None and not given.strip():
            raise UsageError(f"{option} is empty: give a path")
    if config_path is None and not DEFAULT_CONFIG.is_file():
        if not (warehouse and (landing or not landing_needed)):
            paths = "both --landing and --warehouse" if landing_needed else "--warehouse"
            raise ConfigError(
                f"no config: {str(DEFAULT_CONFIG)!r} does not exist (an installed package "
                f"carries no conf/); give --config FILE, or {paths}"
            )
        raw: Any = {}
    else:
        path = config_path or DEFAULT_CONFIG
        raw = _read_yaml(path)
    where = str(config_path or DEFAULT_CONFIG)
    overridden = {k for k, v in (("landing", landing), ("warehouse", warehouse)) if v}
    raw = {
        k: v if k in overridden else expand_env_vars(v, f"config {where!r}: {k}")
        for k, v in raw.items()
    }
    # Where the landing zone is not read, the config need not name it either.
    values = _validated(raw, where, overridden if landing_needed else overridden | {"landing"})
    base = (config_path or DEFAULT_CONFIG).resolve().parent
    lineage = _openlineage(values.get("lineage", {}), where)
    catalog = _catalog(values["catalog"], where) if "catalog" in values else None
    spark_conf = {str(k): _conf_value(v) for k, v in values.get("spark_conf", {}).items()}
    return Settings(
        landing=(
            _resolve("--landing", landing, Path.cwd())
            if landing
            else _resolve(f"config {where!r}: landing", values["landing"], base)
            if values.get("landing")
            else ""
        ),
        warehouse=(
            _resolve("--warehouse", warehouse, Path.cwd())
            if warehouse
            else _resolve(f"config {where!r}: warehouse", values["warehouse"], base)
            if "warehouse" in values
            else ""
        ),
        app_name=values.get("app_name", "lakehouse-daily"),
        spark_conf=merge_conf(spark_conf, openlineage_conf(lineage)),
        max_quarantined_share={
            str(k): float(v) for k, v in values.get("max_quarantined_share", {}).items()
        },
        lineage=lineage,
        source_threads=values.get("source_threads", len(SOURCE_NAMES)),
        catalog=catalog,
    )


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping (the YAML spec calls it
    an error; PyYAML would let the last one win silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        if any(k.tag == "tag:yaml.org,2002:merge" for k, _ in node.value):
            return super().construct_mapping(node, deep)  # `<<:` keys may be overridden
        seen: set[object] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, Hashable):  # refused below, as YAML's loader does
                continue
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"key {key!r} given twice (line {key_node.start_mark.line + 1})",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep)


def _read_yaml(path: Path) -> dict[Any, Any]:
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)  # a SafeLoader
    except OSError as exc:
        raise ConfigError(f"config {str(path)!r}: cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"config {str(path)!r}: not UTF-8 text (byte 0x{exc.object[exc.start]:02X} at "
            f"offset {exc.start})"
        ) from exc
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "invalid YAML"
        raise ConfigError(f"config {str(path)!r}: not valid YAML: {first}") from exc
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"config {str(path)!r}: top level must be a mapping of keys")
    return raw


# `${NAME}`, `${NAME:-default}`; `$${...}` stands for a literal `${...}`.
_VAR_REF = re.compile(r"\$(\$?)\{([^}]*)\}")
_VAR_BODY = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?", re.DOTALL)


def expand_env_vars(value: Any, where: str, env: Mapping[str, str] | None = None) -> Any:
    """Expand `${NAME}` and `${NAME:-default}` in every string of `value` (mappings and lists
    walked, keys left alone), like a shell: the default is used when NAME is unset or empty.
    A variable that is unset or empty and has no default is a config error naming it; so is
    a malformed reference. Expanded text is not expanded again."""
    environ = os.environ if env is None else env
    if isinstance(value, dict):
        return {k: expand_env_vars(v, f"{where}.{k}", environ) for k, v in value.items()}
    if isinstance(value, list):
        return [expand_env_vars(v, f"{where}[{i}]", environ) for i, v in enumerate(value)]
    if not isinstance(value, str) or "${" not in value:
        return value

    def substitute(match: re.Match[str]) -> str:
        escaped, body = match.group(1), match.group(2)
        if escaped:
            return match.group(0)[1:]
        parsed = _VAR_BODY.fullmatch(body)
        if parsed is None:
            raise ConfigError(
                f"{where}: bad variable reference {match.group(0)!r} "
                "(write ${NAME} or ${NAME:-default})"
            )
        name, default = parsed.group(1), parsed.group(2)
        found = environ.get(name)
        if found:
            return found
        if default is not None:
            return default
        state = "is empty" if name in environ else "is not set"
        raise ConfigError(
            f"{where}: environment variable {name} {state} "
            f"(set it, or give a default: ${{{name}:-...}})"
        )

    pieces: list[str] = []
    last = 0
    for match in _VAR_REF.finditer(value):
        _no_stray_reference(value[last : match.start()], value, where)
        pieces.append(value[last : match.start()] + substitute(match))
        last = match.end()
    _no_stray_reference(value[last:], value, where)
    return "".join(pieces) + value[last:]


def _no_stray_reference(text: str, value: str, where: str) -> None:
    if "${" in text:
        raise ConfigError(f"{where}: unclosed variable reference in {value!r}")


def _validated(
    raw: dict[Any, Any], where: str, overridden: set[str] | frozenset[str] = frozenset()
) -> dict[str, Any]:
    unknown = sorted(str(k) for k in raw if k not in _KEYS)
    if unknown:
        raise ConfigError(
            f"config {where!r}: unknown key {unknown[0]!r} (known: {', '.join(sorted(_KEYS))})"
        )
    catalog = raw.get("catalog")
    managed = isinstance(catalog, dict) and catalog.get("managed") is True
    for key in _REQUIRED:
        if managed and key == "warehouse":
            continue  # the catalog decides where managed tables live
        if key not in overridden and raw.get(key) in (None, ""):
            raise ConfigError(f"config {where!r}: missing key {key!r}")
    for key, value in raw.items():
        expected = _KEYS[key]
        if value is not None and not isinstance(value, expected):
            raise ConfigError(
                f"config {where!r}: key {key!r} must be a {expected.__name__}, "
                f"got {type(value).__name__}"
            )
    for k, v in (raw.get("spark_conf") or {}).items():
        if not isinstance(k, str):
            raise ConfigError(f"config {where!r}: spark_conf key {k!r} must be a setting's name")
        if not isinstance(v, str | int | float | bool):
            raise ConfigError(f"config {where!r}: spark_conf.{k} must be a scalar")
        if k in PINNED_SPARK_CONF and str(v) != PINNED_SPARK_CONF[k]:
            raise ConfigError(
                f"config {where!r}: spark_conf.{k} is fixed to {PINNED_SPARK_CONF[k]!r} by the "
                "job (timestamps are naive UTC, and gold's other readers need microseconds)"
            )
    app_name = raw.get("app_name")
    if isinstance(app_name, str) and not app_name.strip():
        raise ConfigError(f"config {where!r}: app_name is empty")
    threads = raw.get("source_threads")
    if threads is not None and (isinstance(threads, bool) or not 1 <= threads <= len(SOURCE_NAMES)):
        raise ConfigError(
            f"config {where!r}: source_threads must be a whole number from 1 to {len(SOURCE_NAMES)}"
        )
    for k, v in (raw.get("max_quarantined_share") or {}).items():
        if k not in SOURCE_NAMES:
            raise ConfigError(
                f"config {where!r}: unknown source max_quarantined_share.{k} "
                f"(known: {', '.join(SOURCE_NAMES)})"
            )
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v <= 1:
            raise ConfigError(
                f"config {where!r}: max_quarantined_share.{k} must be a number from 0 to 1"
            )
    return {k: v for k, v in raw.items() if v is not None}


def _openlineage(lineage: dict[Any, Any], where: str) -> OpenLineage:
    """`lineage: {openlineage: {enabled, url, endpoint, namespace, version}}`, all optional."""
    unknown = sorted(str(k) for k in lineage if k != "openlineage")
    if unknown:
        raise ConfigError(
            f"config {where!r}: unknown key lineage.{unknown[0]} (known: openlineage)"
        )
    section = lineage.get("openlineage") or {}
    if not isinstance(section, dict):
        raise ConfigError(f"config {where!r}: lineage.openlineage must be a mapping")
    section = dict(section)
    switch = section.get("enabled")
    if isinstance(switch, str) and switch.strip().lower() in ("true", "false"):
        section["enabled"] = switch.strip().lower() == "true"  # e.g. from ${LINEAGE:-false}
    _check_keys(section, _OPENLINEAGE_KEYS, "lineage.openlineage", where)
    given = {k: v for k, v in section.items() if v is not None and v != ""}
    return OpenLineage(**given)


def _check_keys(
    section: Mapping[Any, Any], known: Mapping[str, type], prefix: str, where: str
) -> None:
    """Every key of a config section known, and each value (where given) of its type."""
    for key, value in section.items():
        expected = known.get(key)
        if expected is None:
            raise ConfigError(
                f"config {where!r}: unknown key {prefix}.{key} (known: {', '.join(sorted(known))})"
            )
        if value is not None and not isinstance(value, expected):
            raise ConfigError(
                f"config {where!r}: {prefix}.{key} must be a {expected.__name__}, "
                f"got {type(value).__name__}"
            )


def _catalog(section: dict[Any, Any], where: str) -> Catalog:
    """`catalog: {name, schema_prefix | schemas: {layer: schema}, managed}`, all optional:
    without `name` the session's current catalog, without schemas `<prefix>_<layer>`
    (prefix `lakehouse`), without `managed` external tables at the warehouse's folders."""
    _check_keys(section, _CATALOG_KEYS, "catalog", where)
    if "schemas" in section and "schema_prefix" in section:
        raise ConfigError(
            f"config {where!r}: give catalog.schemas or catalog.schema_prefix, not both"
        )
    schemas = default_schemas(
        _identifier(section.get("schema_prefix", "lakehouse"), "catalog.schema_prefix", where)
    )
    for layer, schema in (section.get("schemas") or {}).items():
        if layer not in LAYERS:
            raise ConfigError(
                f"config {where!r}: unknown layer catalog.schemas.{layer} "
                f"(known: {', '.join(LAYERS)})"
            )
        schemas[layer] = _identifier(schema, f"catalog.schemas.{layer}", where)
    name = section.get("name")
    return Catalog(
        schemas=schemas,
        name=_identifier(name, "catalog.name", where) if name else None,
        managed=bool(section.get("managed", False)),
    )


def _identifier(value: object, key: str, where: str) -> str:
    if not isinstance(value, str) or not _IDENTIFIER.fullmatch(value):
        raise ConfigError(
            f"config {where!r}: {key} must be a name of letters, digits and underscores, "
            f"got {value!r}"
        )
    return value


def _conf_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
