"""Stand-ins the tests raise where Spark or Delta would: no JVM needed."""

from __future__ import annotations

from pyspark.errors import AnalysisException


class DeltaSays(AnalysisException):
    """Delta's error as the session raises it, classic or over Connect: known by its
    condition."""

    def __init__(self, condition: str) -> None:
        super().__init__(message=f"[{condition}] something")
        self._condition = condition

    def getCondition(self) -> str:
        return self._condition
