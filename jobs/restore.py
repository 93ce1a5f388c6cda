"""Undo runs: `spark-submit jobs/restore.py --before-run RUN_ID | --to-date D [--dry-run]`."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

# A plain checkout: the package beside this file. Only its absence is handled, so a missing
# dependency is said as it is, not hidden behind a second import error.
if importlib.util.find_spec("lakehouse") is None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from lakehouse.cli import restore_main

if __name__ == "__main__":
    sys.exit(restore_main())
