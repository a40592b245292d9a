"""The preview answer cache: bounded LRU with an age limit, copies in and out."""

from __future__ import annotations

import time

from airflow_provider_logidata.preview.cache import PreviewCache


def test_lru_bound_and_copies() -> None:
    cache = PreviewCache(entries=2)
    cache.put("a", {"rows": [[1]]})
    cache.put("b", {"rows": [[2]]})
    hit = cache.get("a")
    assert hit == {"rows": [[1]]}
    hit["rows"].append([99])  # the caller's copy
    assert cache.get("a") == {"rows": [[1]]}
    cache.put("c", {"rows": [[3]]})  # "b" is the least recently used
    assert cache.get("b") is None and cache.get("a") is not None and len(cache) == 2


def test_age_limit_and_disabled() -> None:
    cache = PreviewCache(entries=4, ttl=0.05)
    cache.put("a", {})
    time.sleep(0.1)
    assert cache.get("a") is None
    off = PreviewCache(entries=0)
    off.put("a", {})
    assert off.get("a") is None
