"""Clustering spelling variants of one value (OpenRefine's methods, bounded for a sample).

1. Key collision on the *fingerprint* (accents stripped, lower case, punctuation removed, tokens sorted
   and deduplicated): "Saint-Étienne" ~ "saint etienne", "Smith, John" ~ "John Smith".
2. Key collision on the *2-gram fingerprint* (sorted distinct character pairs of the letters and
   digits): "Marseille" ~ "Marseile"-like transpositions of repeated pairs, "New York" ~ "NewYork".
3. Nearest neighbour by Levenshtein distance, computed by DuckDB over pairs of distinct values of
   similar length (at most ``MAX_DISTINCT`` values, so at most a few million pairs): "Bordeaux" ~
   "Bordeaus". Only accepted when the variant is clearly rarer than the value it joins (a typo is
   rare; two real categories a letter apart, "Nice" and "Nile", usually are not), and never between
   values holding digits (dates and codes: no method clusters those).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

MAX_DISTINCT = 3000
RARER = 0.5  # a nearest-neighbour variant is at most this share of the value it joins

_PUNCT = re.compile(r"[^\w\s]", re.UNICODE)
_NON_ALNUM = re.compile(r"[\W_]+", re.UNICODE)


def strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def fingerprint(text: str) -> str:
    cleaned = _PUNCT.sub(" ", strip_accents(text).lower())
    return " ".join(sorted(set(cleaned.split())))


def ngram_fingerprint(text: str, n: int = 2) -> str:
    cleaned = _NON_ALNUM.sub("", strip_accents(text).lower())
    return "".join(sorted({cleaned[i : i + n] for i in range(max(0, len(cleaned) - n + 1))}))


def max_distance(length: int) -> int:
    """Edits allowed between two values whose shorter one has ``length`` characters."""
    if length < 4:
        return 0
    if length < 8:
        return 1
    if length < 14:
        return 2
    return 3


@dataclass
class Cluster:
    canonical: str
    members: dict[str, int] = field(default_factory=dict)  # variant -> count (canonical excluded)
    methods: set[str] = field(default_factory=set)


class _Union:
    def __init__(self, values: list[str]) -> None:
        self.parent = {v: v for v in values}

    def find(self, v: str) -> str:
        while self.parent[v] != v:
            self.parent[v] = self.parent[self.parent[v]]
            v = self.parent[v]
        return v

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra


def cluster_values(counts: dict[str, int], con: duckdb.DuckDBPyConnection | None = None) -> list[Cluster]:
    """Clusters of at least two values, canonical = the most frequent member (ties: the first in order)."""
    # Values holding digits are left alone: "01/02/2024" and "02/01/2024" share a fingerprint, and codes
    # one digit apart are different codes.
    values = [v for v in counts if v.strip() and not any(ch.isdigit() for ch in v)]
    if len(values) < 2 or len(values) > MAX_DISTINCT:
        return []
    union = _Union(values)
    methods: dict[tuple[str, str], str] = {}
    for name, key_of in (("fingerprint", fingerprint), ("2-gram fingerprint", ngram_fingerprint)):
        by_key: dict[str, str] = {}
        for value in values:
            key = key_of(value)
            if not key:
                continue
            if key in by_key:
                union.union(by_key[key], value)
                methods.setdefault((by_key[key], value), name)
            else:
                by_key[key] = value
    if con is not None:
        for a, b in _near_pairs(values, counts, con):
            union.union(a, b)
            methods.setdefault((a, b), "edit distance")
    groups: dict[str, list[str]] = {}
    for value in values:
        groups.setdefault(union.find(value), []).append(value)
    clusters = []
    for members in groups.values():
        if len(members) < 2:
            continue
        canonical = max(members, key=lambda v: (counts[v], -values.index(v)))
        cluster = Cluster(canonical=canonical)
        for member in members:
            if member != canonical:
                cluster.members[member] = counts[member]
        cluster.methods = {m for (a, b), m in methods.items() if a in cluster.members or b in cluster.members}
        clusters.append(cluster)
    clusters.sort(key=lambda c: -sum(c.members.values()))
    return clusters


def _near_pairs(
    values: list[str], counts: dict[str, int], con: duckdb.DuckDBPyConnection
) -> list[tuple[str, str]]:
    """Pairs within ``max_distance`` whose rarer side is at most ``RARER`` of the other (DuckDB join)."""
    import pyarrow as pa

    letters = values
    table = pa.table(
        {
            "v": letters,
            "k": [strip_accents(v).lower() for v in letters],
            "n": [counts[v] for v in letters],
        }
    )
    con.register("__suggest_values", table)
    try:
        rows = con.execute(
            """
            SELECT a.v, b.v FROM __suggest_values a JOIN __suggest_values b
              ON a.n > b.n AND abs(length(a.k) - length(b.k)) <= 3
            WHERE b.n <= ? * a.n
              AND levenshtein(a.k, b.k) <= CASE
                    WHEN least(length(a.k), length(b.k)) < 4 THEN 0
                    WHEN least(length(a.k), length(b.k)) < 8 THEN 1
                    WHEN least(length(a.k), length(b.k)) < 14 THEN 2
                    ELSE 3 END
            """,
            [RARER],
        ).fetchall()
    finally:
        con.unregister("__suggest_values")
    return [(str(a), str(b)) for a, b in rows]
