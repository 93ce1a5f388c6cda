"""Where each table lives: a folder under the warehouse root (Delta's path tables, no
metastore), or a name in a catalog (`catalog.schema.table`, one schema per layer), external
at that same folder or managed by the catalog."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from lakehouse import sql

LAYERS = ("bronze", "quarantine", "silver", "gold", "ops")


def table_path(root: str, layer: str, name: str) -> str:
    return f"{root.rstrip('/')}/{layer}/{name}"


@dataclass(frozen=True)
class Table:
    """One table's address: every read, write and statement of the job goes through it."""

    # Its folder where the job knows it (path tables, external tables); None: managed.
    path: str | None
    # Its name in the catalog, part by part; empty: addressed by path.
    name: tuple[str, ...] = ()
    # The columns its definition declares (lakehouse.tables), in order; any other column is
    # one a source drifted into, which lakehouse.storage keeps after them in sorted order.
    declared: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        if self.path is None and not self.name:
            raise ValueError("a table needs a path or a name")

    @property
    def sql(self) -> str:
        """The table in SQL: its quoted name, or Delta's `delta.`path`` form."""
        if self.name:
            return ".".join(sql.ident(part) for part in self.name)
        assert self.path is not None
        return sql.delta_table(self.path)

    @property
    def by_name(self) -> bool:
        return bool(self.name)

    @property
    def schema_sql(self) -> str:
        """Its schema (the name less its last part) in SQL."""
        return ".".join(sql.ident(part) for part in self.name[:-1])

    def __str__(self) -> str:
        return ".".join(self.name) if self.name else str(self.path)


def default_schemas(prefix: str = "lakehouse") -> dict[str, str]:
    return {layer: f"{prefix}_{layer}" for layer in LAYERS}


@dataclass(frozen=True)
class Catalog:
    """Tables by name: the catalog (None: the session's current one, e.g. Spark's own
    `spark_catalog` with a Hive metastore) and the schema of each layer. Managed tables live
    where the catalog puts them; external ones at the warehouse's folders."""

    schemas: Mapping[str, str] = field(default_factory=default_schemas)
    name: str | None = None
    managed: bool = False

    def address(self, layer: str, table: str) -> tuple[str, ...]:
        schema = self.schemas[layer]
        return (self.name, schema, table) if self.name else (schema, table)


@dataclass(frozen=True)
class Warehouse:
    """The root folder of the tables, and the catalog that names them (None: by path)."""

    root: str
    catalog: Catalog | None = None

    def table(self, layer: str, name: str) -> Table:
        if self.catalog is None:
            return Table(table_path(self.root, layer, name))
        path = None if self.catalog.managed else table_path(self.root, layer, name)
        return Table(path, self.catalog.address(layer, name))

    def __str__(self) -> str:
        if self.catalog is None:
            return self.root
        schemas = sorted(set(self.catalog.schemas.values()))
        prefix = f"{self.catalog.name}." if self.catalog.name else ""
        return ", ".join(prefix + s for s in schemas)
