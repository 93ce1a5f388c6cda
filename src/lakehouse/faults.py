"""A crash switch for tests: `LAKEHOUSE_FAULT_AT=before:silver:order_updates` stops the run
right there. Points sit immediately before and after every commit of a run."""

from __future__ import annotations

import os

from lakehouse.errors import InjectedFault

ENV_VAR = "LAKEHOUSE_FAULT_AT"


def point(when: str, step: str, source: str | None = None) -> None:
    name = f"{when}:{step}" + (f":{source}" if source else "")
    if os.environ.get(ENV_VAR) == name:
        raise InjectedFault(f"fault injected at {name}")
