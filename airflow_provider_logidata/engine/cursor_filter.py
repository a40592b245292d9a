"""A destination's side of a cursor load: drop the rows it already holds, count the rows it lands.

Row hashes are computed on the rows as they reach the destination, not as read: transforms may drop,
rename or add columns, so a hash column added by the source would not survive ``select_columns``, an
``aggregate`` or ``sql``; a row-by-row deterministic transform turns the same source row into the same
landed row, so its hash identifies it just as well. Validation (``spec.incremental``) refuses, between a
cursor source and a destination that needs the boundary, the nodes for which that does not hold, and
requires the cursor column to reach the destination unchanged.

More than :data:`BOUNDARY_CAP` rows sharing one cursor value are refused where the boundary is needed
(append, files): the column is not selective enough to tell new rows from loaded ones.

Light at import time: pyarrow is imported where it is used.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_logidata.engine.cursor_state import (
    Boundary,
    CursorState,
    now_text,
    typed_scalar,
    typed_value,
)
from airflow_provider_logidata.engine.errors import LogiDataTaskError

if TYPE_CHECKING:
    from collections.abc import Mapping

    import pyarrow as pa

# Most rows sharing the cursor value a destination that needs the boundary remembers (see module doc).
BOUNDARY_CAP = 10_000
# Hex characters kept of a row's sha256 (80 bits: no collision among BOUNDARY_CAP rows in practice).
HASH_CHARS = 20


# --- row hashes and the destination's filter --------------------------------------------------------


def _json_default(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "hex:" + bytes(value).hex()
    if isinstance(value, dt.timedelta):
        return f"{value.days}d{value.seconds}s{value.microseconds}us"
    return str(value)


def row_hashes(rows: pa.Table | pa.RecordBatch) -> list[str]:
    """A stable hash of every row: sha256 of its canonical JSON ``{column: value}`` (names sorted),
    truncated to :data:`HASH_CHARS` hex characters. The same values give the same hash in every run and
    whatever the column order."""
    out = []
    for row in rows.to_pylist():
        payload = json.dumps(
            row, sort_keys=True, default=_json_default, separators=(",", ":"), ensure_ascii=False
        )
        out.append(hashlib.sha256(payload.encode("utf-8")).hexdigest()[:HASH_CHARS])
    return out


def boundary_size(boundary: Boundary) -> int:
    return sum(boundary.values()) if isinstance(boundary, dict) else 0


def too_many_at_value(count: int, value: str | None, column: str, owner: str) -> LogiDataTaskError:
    return LogiDataTaskError(
        f"{owner}: more than {BOUNDARY_CAP:,} rows share the cursor value {value!r} of {column!r}: the "
        "cursor column is not selective enough to tell the rows already loaded from new ones with the same "
        f"value ({count:,} seen). Use a finer column (a timestamp with microseconds, an increasing id), or "
        "merge on keys (mode 'merge' does not need to tell them apart). Nothing was written."
    )


@dataclass
class CursorFilter:
    """One destination's side of a cursor load: drop what it holds, count what it lands, new state.

    ``needs_boundary``: whether rows at the state's value must be told apart by their hash (append and
    files); a merge destination does not need it (loading a row again merges it again), so more than
    :data:`BOUNDARY_CAP` rows at one value are refused only where it is needed.
    """

    entry: Mapping[str, Any]
    destination: str
    owner: str
    state: CursorState | None
    needs_boundary: bool = True
    dropped_below: int = 0
    dropped_boundary: int = 0
    landed: int = 0
    landed_at_max: Counter[str] = field(default_factory=Counter)
    overflow: bool = False
    _remaining: Counter[str] = field(default_factory=Counter, init=False, repr=False)
    _type: Any = field(default=None, init=False, repr=False)
    _lower: Any = field(default=None, init=False, repr=False)
    _initial: Any = field(default=None, init=False, repr=False)
    _max: Any = field(default=None, init=False, repr=False)
    _prior_at_max: int = field(default=0, init=False, repr=False)

    @property
    def column(self) -> str:
        return str(self.entry["column"])

    @property
    def read_max(self) -> str | None:
        value = self.entry.get("read_max")
        return None if value is None else str(value)

    def check(self, arrow_type: pa.DataType) -> None:
        """Refuse a load that would miss rows: the source must have read from this destination's value."""
        self._type = arrow_type
        read_from = self.entry.get("read_from")
        if read_from is None:
            return
        own = self.state.value if self.state is not None else self.entry.get("initial_value")
        if own is None or typed_value(str(own), arrow_type, what=self.owner) < typed_value(
            str(read_from), arrow_type, what=self.owner
        ):
            where = "has no cursor yet" if own is None else f"is at {own!r}"
            raise LogiDataTaskError(
                f"{self.owner}: the source {self.entry.get('source')!r} read {self.column} >= "
                f"{read_from!r} but this destination's cursor {where}: the rows in between would never "
                "reach it. Its cursor changed after the source read (deleted or set by hand?); clear the "
                "source task to read again. Nothing was written."
            )

    def wrap(self, reader: pa.RecordBatchReader) -> pa.RecordBatchReader:
        """The input without the rows this destination already holds (checked, counted as it streams)."""
        import pyarrow as pa

        schema = reader.schema
        if self.column not in schema.names:
            raise LogiDataTaskError(
                f"{self.owner}: the cursor column {self.column!r} of source {self.entry.get('source')!r} "
                f"does not reach this destination (its input has {', '.join(schema.names)}): without it the "
                "rows already loaded cannot be told from new ones. Keep the column, unchanged and under the "
                "same name, on the way here (select_columns). Nothing was written."
            )
        arrow_type = schema.field(self.column).type
        self.check(arrow_type)
        what = self.owner
        state = self.state
        self._lower = None
        self._initial = None
        if state is not None and state.value is not None:
            self._lower = typed_scalar(state.value, arrow_type, what=what)
            if isinstance(state.boundary, dict):
                self._remaining = Counter(state.boundary)
        elif self.entry.get("initial_value") is not None:
            self._initial = typed_scalar(str(self.entry["initial_value"]), arrow_type, what=what)
        self._max = None if self.read_max is None else typed_scalar(self.read_max, arrow_type, what=what)
        self._prior_at_max = 0
        if (
            state is not None
            and state.value is not None
            and self.read_max is not None
            and typed_value(state.value, arrow_type, what=what)
            == typed_value(self.read_max, arrow_type, what=what)
        ):
            self._prior_at_max = boundary_size(state.boundary)
        return pa.RecordBatchReader.from_batches(schema, self._batches(reader))

    def _batches(self, reader: pa.RecordBatchReader) -> Any:
        for batch in reader:
            yield self._filter(batch)

    def _filter(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        import pyarrow as pa
        import pyarrow.compute as pc

        column = batch.column(self.column)
        if self._lower is not None:
            keep = pc.fill_null(pc.greater(column, self._lower), False).to_numpy(zero_copy_only=False).copy()
            equal = pc.fill_null(pc.equal(column, self._lower), False).to_numpy(zero_copy_only=False)
            at_value = equal.nonzero()[0]
            below = len(batch) - int(keep.sum()) - len(at_value)
            self.dropped_below += below
            if len(at_value):
                boundary = self.state.boundary if self.state is not None else {}
                if boundary == "all":
                    self.dropped_boundary += len(at_value)
                elif boundary == "unknown":
                    keep[at_value] = True
                else:
                    hashes = row_hashes(batch.take(pa.array(at_value)))
                    for index, digest in zip(at_value, hashes, strict=True):
                        if self._remaining[digest] > 0:
                            self._remaining[digest] -= 1
                            self.dropped_boundary += 1
                        else:
                            keep[index] = True
            batch = batch.filter(pa.array(keep))
        elif self._initial is not None:
            keep_array = pc.fill_null(pc.greater_equal(column, self._initial), False)
            before = len(batch)
            batch = batch.filter(keep_array)
            self.dropped_below += before - len(batch)
        self.landed += len(batch)
        if self._max is not None and len(batch) and not self.overflow:
            at_max = pc.fill_null(pc.equal(batch.column(self.column), self._max), False)
            indices = at_max.to_numpy(zero_copy_only=False).nonzero()[0]
            if len(indices):
                total = self._prior_at_max + sum(self.landed_at_max.values()) + len(indices)
                if total > BOUNDARY_CAP:
                    if self.needs_boundary:
                        raise too_many_at_value(total, self.read_max, self.column, self.owner)
                    self.overflow = True
                    self.landed_at_max.clear()
                else:
                    self.landed_at_max.update(row_hashes(batch.take(pa.array(indices))))
        return batch

    def new_state(self) -> CursorState | None:
        """The state to commit once the rows landed; ``None`` when it does not change."""
        if self.read_max is None:
            return None
        arrow_type = self._type
        state = self.state
        new_max = typed_value(self.read_max, arrow_type, what=self.owner)
        boundary: Boundary
        if state is not None and state.value is not None and state.applies_to(self.column):
            old = typed_value(state.value, arrow_type, what=self.owner)
            if new_max < old:
                return None
            if new_max == old:
                if self.overflow or state.boundary == "unknown":
                    boundary = "unknown"
                elif state.boundary == "all":
                    boundary = "all"
                else:
                    merged = Counter(state.boundary)
                    merged.update(self.landed_at_max)
                    if sum(merged.values()) > BOUNDARY_CAP:
                        if self.needs_boundary:
                            raise too_many_at_value(
                                sum(merged.values()), self.read_max, self.column, self.owner
                            )
                        boundary = "unknown"
                    else:
                        boundary = dict(merged)
                return CursorState(self.column, self.read_max, boundary, committed_at=now_text())
        boundary = "unknown" if self.overflow else dict(self.landed_at_max)
        return CursorState(self.column, self.read_max, boundary, committed_at=now_text())

    def summary(self) -> str:
        parts = [f"{self.landed} new row(s) kept"]
        if self.dropped_below:
            parts.append(f"dropped {self.dropped_below} row(s) below its cursor (already loaded)")
        if self.dropped_boundary:
            parts.append(f"dropped {self.dropped_boundary} already-loaded boundary row(s)")
        where = (
            "no cursor yet"
            if self.state is None or self.state.value is None
            else f"cursor at {self.state.value!r} ({self.state.origin})"
        )
        return f"{self.destination}: {where}; " + ", ".join(parts)
