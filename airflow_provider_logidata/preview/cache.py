"""Preview answers kept in the api-server's memory, keyed by the plan's hash (upstream sub-graph + sampling).

Bounded by entries (``[logidata] preview_cache_entries``, least recently used dropped first) and by age
(``TTL_SECONDS``): the key says nothing about the data, so a table that changed shows within minutes.
"""

from __future__ import annotations

import copy
import threading
import time
from collections import OrderedDict
from typing import Any

TTL_SECONDS = 300.0


class PreviewCache:
    def __init__(self, entries: int = 64, ttl: float = TTL_SECONDS) -> None:
        self.entries = entries
        self.ttl = ttl
        self._items: OrderedDict[str, tuple[float, dict[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            stored, answer = item
            if time.monotonic() - stored > self.ttl:
                del self._items[key]
                return None
            self._items.move_to_end(key)
            return copy.deepcopy(answer)

    def put(self, key: str, answer: dict[str, Any]) -> None:
        if self.entries <= 0:
            return
        with self._lock:
            self._items[key] = (time.monotonic(), copy.deepcopy(answer))
            self._items.move_to_end(key)
            while len(self._items) > self.entries:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)
