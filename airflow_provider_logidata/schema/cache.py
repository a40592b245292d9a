"""Source columns remembered between validations: a builder validates on every edit, a source's
columns change rarely. Keyed by the rendered source config, so editing the path or query reads again;
entries expire, and the builder's "refresh" drops them. Failures are kept too (briefly), so a missing
file does not cost a read on every keystroke."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from airflow_provider_logidata.schema.model import Column  # noqa: TC001 - stored at run time


@dataclass(frozen=True)
class Entry:
    columns: tuple[Column, ...] | None
    failure: str | None
    stored: float


class SourceCache:
    def __init__(self, entries: int = 512, ttl: float = 600.0, failure_ttl: float = 15.0) -> None:
        self._items: OrderedDict[str, Entry] = OrderedDict()
        self._lock = threading.Lock()
        self.entries, self.ttl, self.failure_ttl = entries, ttl, failure_ttl

    def get(self, key: str) -> Entry | None:
        with self._lock:
            entry = self._items.get(key)
            if entry is None:
                return None
            limit = self.ttl if entry.failure is None else self.failure_ttl
            if time.monotonic() - entry.stored > limit:
                del self._items[key]
                return None
            self._items.move_to_end(key)
            return entry

    def put(self, key: str, columns: list[Column] | None, failure: str | None = None) -> None:
        with self._lock:
            self._items[key] = Entry(
                tuple(columns) if columns is not None else None, failure, time.monotonic()
            )
            self._items.move_to_end(key)
            while len(self._items) > self.entries:
                self._items.popitem(last=False)

    def snapshot(self) -> dict[str, tuple[tuple[Column, ...] | None, str | None]]:
        """What is still fresh, as a check job takes it."""
        with self._lock:
            now = time.monotonic()
            return {
                key: (entry.columns, entry.failure)
                for key, entry in self._items.items()
                if now - entry.stored <= (self.ttl if entry.failure is None else self.failure_ttl)
            }

    def drop(self, keys: list[str]) -> None:
        with self._lock:
            for key in keys:
                self._items.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
