"""Opt-in lineage: the Spark settings that attach the OpenLineage listener.

Pure functions of the config (no Spark here), so the switch is unit-tested without a session.
The listener runs in the driver and reports every read and write of the run (landing files,
Delta tables) as OpenLineage events, over HTTP to a lineage server (Marquez, DataHub, ...) or
to the driver's log (`console`, when no `url` is given).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

OPENLINEAGE_VERSION = "1.53.0"
OPENLINEAGE_LISTENER = "io.openlineage.spark.agent.OpenLineageSparkListener"
# Spark 4's one Scala version, which every Spark package's artifact name carries.
SCALA_BINARY = "2.13"

# Spark settings whose value is a comma list: lineage adds to them rather than replacing them.
LIST_KEYS = ("spark.jars.packages", "spark.extraListeners")


@dataclass(frozen=True)
class OpenLineage:
    """`lineage: {openlineage: {...}}` in the config; off unless `enabled: true`."""

    enabled: bool = False
    url: str | None = None  # e.g. http://marquez:5000; none: events go to the driver's log
    endpoint: str = "api/v1/lineage"
    namespace: str = "lakehouse"
    version: str = OPENLINEAGE_VERSION

    @property
    def package(self) -> str:
        return f"io.openlineage:openlineage-spark_{SCALA_BINARY}:{self.version}"


def openlineage_conf(settings: OpenLineage) -> dict[str, str]:
    """The Spark conf that turns the listener on; nothing at all when it is off."""
    if not settings.enabled:
        return {}
    conf = {
        "spark.jars.packages": settings.package,
        "spark.extraListeners": OPENLINEAGE_LISTENER,
        "spark.openlineage.namespace": settings.namespace,
    }
    if settings.url:
        conf |= {
            "spark.openlineage.transport.type": "http",
            "spark.openlineage.transport.url": settings.url,
            "spark.openlineage.transport.endpoint": settings.endpoint,
        }
    else:
        conf["spark.openlineage.transport.type"] = "console"
    return conf


def merge_conf(base: Mapping[str, str], extra: Mapping[str, str]) -> dict[str, str]:
    """`base` with `extra` added: comma-list settings are joined (each entry once, `base`'s
    first), any other setting already in `base` wins, as the user wrote it explicitly."""
    out = dict(base)
    for key, value in extra.items():
        if key in LIST_KEYS and out.get(key):
            items = [i.strip() for i in f"{out[key]},{value}".split(",") if i.strip()]
            out[key] = ",".join(dict.fromkeys(items))
        else:
            out.setdefault(key, value)
    return out
