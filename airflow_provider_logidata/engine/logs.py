"""Logging helpers: the engine logs through whatever logger the caller hands in (``self.log`` in a task).

Messages are formatted before they are logged, so a ``%`` inside a date format or a path never meets
printf-style formatting, whichever logger (stdlib or structlog) receives them.
"""

from __future__ import annotations

import logging
import time
from typing import Protocol

log = logging.getLogger("airflow_provider_logidata.engine")

# A progress line every this many batches; totals are always logged at the end.
PROGRESS_EVERY_BATCHES = 20


class TaskLog(Protocol):
    """The part of a logger the engine uses; ``logging.Logger`` and Airflow's task logger both fit."""

    def info(self, msg: str, /) -> object: ...

    def warning(self, msg: str, /) -> object: ...


def get_log(candidate: TaskLog | None) -> TaskLog:
    return candidate if candidate is not None else log


class Progress:
    """Counts rows and batches of one stream and logs a line every ``every`` batches."""

    def __init__(self, log: TaskLog, label: str, *, verb: str = "wrote", every: int = PROGRESS_EVERY_BATCHES):
        self.log = log
        self.label = label
        self.verb = verb
        self.every = max(1, every)
        self.rows = 0
        self.batches = 0
        self.started = time.monotonic()

    def add(self, rows: int) -> None:
        self.rows += rows
        self.batches += 1
        if self.batches % self.every == 0:
            self.log.info(
                f"{self.label}: {self.verb} {self.rows} rows in {self.batches} batch(es) so far "
                f"({self.elapsed():.1f} s)"
            )

    def elapsed(self) -> float:
        return time.monotonic() - self.started
