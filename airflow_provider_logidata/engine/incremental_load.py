"""A destination's side of incremental loads: replace a run's interval, filter and commit a cursor.

Built from the input handles' ``meta["incremental"]`` (``engine.incremental``), by ``destination.postgres``
(ETL: ``engine.pg_load.load_postgres``; ELT: ``engine.elt.run_elt``, a cursor through
``engine.elt_cursor``, which drops the rows held in SQL and commits the state with
:meth:`DestinationIncremental.commit_postgres`) and by ``destination.file`` (``engine.destinations``).

**Interval** (a ``data_interval`` source upstream): ``destination.postgres`` in mode ``append`` deletes the
target's rows with ``column >= start AND column < end`` in the transaction that inserts the interval's rows,
so a rerun or backfill replaces the interval instead of adding it again (``engine.interval_replace``). The
interval column must reach the destination under the same name (checked there at run time; validation
refuses what it can see statically).
``merge`` stays a merge (reruns update the same keys); ``replace`` replaces the whole table anyway.

**Cursor** (a ``cursor`` source upstream): the destination reads its own state at load time (the
authoritative copy: PostgreSQL's state table inside the load's transaction, under an advisory lock so that
two runs loading the same destination take turns, or its Variable when that is newer: a load whose role
could not write the table), drops the rows it already holds
(``cursor_filter.CursorFilter``), loads the rest and commits its new state: ``destination.postgres`` in the
same transaction, in ``<target schema>.logidata_cursor_state`` (created on first use; when the role may not
create or write it, the Airflow Variable right after the commit, with a warning); ``destination.file`` as
the Airflow Variable right after its atomic commit.

Files and a Variable cannot be committed together, so a file destination saves its cursor in two phases
(:meth:`DestinationIncremental.before_file_commit`): before the commit, the Variable gains a ``pending``
entry next to the committed state, naming what is about to land and the new state (a failure there fails
the load with nothing written); after the commit, the new state replaces both. When the second save
fails, the next load of the destination, whatever it writes (a path with the run's date writes another
file or folder), finds the pending entry and adopts its state if the write landed, else ignores it
(``engine.cursor_pending`` tells how).

The source reads the committed state only (it may read some rows again; the destination drops them).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow_provider_logidata.engine import cursor_filter, cursor_state, incremental
from airflow_provider_logidata.engine.cursor_filter import CursorFilter
from airflow_provider_logidata.engine.cursor_pending import PENDING, pending_landed
from airflow_provider_logidata.engine.cursor_state import (
    DESTINATION_FILE,
    DESTINATION_POSTGRES,
    STATE_TABLE,
    CursorState,
    VariableStore,
)
from airflow_provider_logidata.engine.errors import LogiDataTaskError
from airflow_provider_logidata.engine.interval_replace import delete_interval

if TYPE_CHECKING:
    from collections.abc import Sequence

    import psycopg
    import pyarrow as pa

    from airflow_provider_logidata.engine.logs import TaskLog


class DestinationIncremental:
    """What one destination load does for the incremental sources of its input.

    ``destination``: the destination's node (task) id; ``module``: ``destination.postgres`` or
    ``destination.file``. Raises when several cursor sources feed one destination: their cursor columns
    would each filter the other's rows.
    """

    def __init__(
        self,
        handles: Sequence[Mapping[str, Any]],
        *,
        destination: str,
        module: str,
        owner: str,
        log: TaskLog,
        variables: VariableStore | None = None,
    ) -> None:
        entries = incremental.incremental_entries(handles)
        self.intervals = [e for e in entries if e["kind"] == "interval"]
        cursors = [e for e in entries if e["kind"] == "cursor"]
        if len(cursors) > 1:
            sources = ", ".join(repr(e.get("source")) for e in cursors)
            raise LogiDataTaskError(
                f"{owner}: fed by several cursor sources ({sources}); a destination keeps the cursor of one "
                "source only. Load each source into its own destination. Nothing was written."
            )
        self.cursor = cursors[0] if cursors else None
        self.destination = destination
        self.module = module
        self.owner = owner
        self.log = log
        self.variables = variables or cursor_state.AirflowVariables()
        self.filter: CursorFilter | None = None
        self.new_state: CursorState | None = None
        self.in_transaction = False  # the new state was written with the data (PostgreSQL)
        self.state_table = ""
        self.fallback: str | None = None  # why the state goes to a Variable instead of the table
        # Files: this destination's own state as the load found it (kept as the committed state of the
        # Variable while a single file is pending), and the file whose cursor it saves as pending.
        self.own_state: CursorState | None = None
        self.pending_uri: str | None = None

    @property
    def active(self) -> bool:
        return bool(self.intervals) or self.cursor is not None

    @property
    def source(self) -> str:
        assert self.cursor is not None
        return str(self.cursor["source"])

    @property
    def dag_id(self) -> str:
        assert self.cursor is not None
        return str(self.cursor["dag_id"])

    @property
    def variable_key(self) -> str:
        return cursor_state.destination_key(self.dag_id, self.source, self.destination)

    def _variable_state(self) -> CursorState | None:
        return CursorState.parse(self.variables.get(self.variable_key), f"Variable {self.variable_key}")

    def _legacy_state(self) -> CursorState | None:
        key = cursor_state.cursor_key(self.dag_id, self.source)
        state = CursorState.parse(self.variables.get(key), f"legacy Variable {key}")
        if state is not None:
            self.log.info(
                f"{self.destination}: no cursor of its own yet; starting from the source's former cursor "
                f"{state.value!r} ({key}), the rows at that value counted as loaded"
            )
        return state

    def _start_filter(
        self, state: CursorState | None, reader: pa.RecordBatchReader, *, needs_boundary: bool
    ) -> Any:
        assert self.cursor is not None
        if state is not None and not state.applies_to(str(self.cursor["column"])):
            self.log.warning(
                f"{self.owner}: its cursor is on column {state.column!r}, the source now uses "
                f"{self.cursor['column']!r}: starting again as if it had none"
            )
            state = None
        self.filter = CursorFilter(
            self.cursor, self.destination, self.owner, state, needs_boundary=needs_boundary
        )
        wrapped = self.filter.wrap(reader)
        self.log.info(
            f"{self.destination}: cursor of source {self.source!r} on {self.cursor['column']}: "
            + ("none yet" if state is None or state.value is None else f"{state.value!r} ({state.origin})")
            + f"; the source read from {self.cursor.get('read_from')!r} up to {self.cursor.get('read_max')!r}"
        )
        return wrapped

    def _log_filtered(self) -> None:
        if self.filter is None:
            return
        f = self.filter
        if f.dropped_boundary:
            self.log.info(f"{self.destination}: dropped {f.dropped_boundary} already-loaded boundary rows")
        if f.dropped_below:
            self.log.info(
                f"{self.destination}: dropped {f.dropped_below} rows below its cursor (loaded by an earlier "
                "run; read again for another destination)"
            )

    # --- PostgreSQL ---------------------------------------------------------------------------------

    def begin_postgres(
        self, con: psycopg.Connection[Any], config: Any, reader: pa.RecordBatchReader, node_id: str
    ) -> pa.RecordBatchReader:
        """Inside the load's transaction, before the target is prepared: replace the interval (append),
        read the cursor state under a lock and filter the input. Returns the reader to load."""
        if self.intervals:
            if config.mode == "append":
                for entry in self.intervals:
                    delete_interval(
                        con,
                        config.schema_name,
                        config.table,
                        str(entry["column"]),
                        str(entry["start"]),
                        str(entry["end"]),
                        input_names=reader.schema.names,
                        on_schema_change=config.on_schema_change,
                        source=str(entry.get("source")),
                        owner=self.owner,
                        node_id=node_id,
                        log=self.log,
                    )
            elif config.mode == "merge":
                self.log.info(
                    f"{node_id}: interval load merged on keys ({', '.join(config.keys or [])}): a rerun "
                    "updates the same rows"
                )
        if self.cursor is None:
            return reader
        if config.mode == "replace":
            raise LogiDataTaskError(
                f"{self.owner}: mode 'replace' empties the table on every run, but cursor source "
                f"{self.source!r} only reads the rows that are new since the last run: the table would hold "
                "only those. Use mode 'append' or 'merge'. Nothing was written."
            )
        state = self.locked_state(con, config.schema_name)
        return self._start_filter(state, reader, needs_boundary=config.mode != "merge")  # type: ignore[no-any-return]

    def locked_state(self, con: psycopg.Connection[Any], schema: str) -> CursorState | None:
        """Inside the load's transaction: take this destination's lock (two runs loading it take turns)
        and read its state (also for ELT, ``engine.elt_cursor``)."""
        con.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
            (f"logidata:cursor:{self.dag_id}:{self.source}:{self.destination}",),
        )
        # The newest copy wins: a load whose role could not write the table saved its state as the
        # Variable (commit_postgres), leaving an older row of an earlier load in the table; starting from
        # that row would load the rows in between again.
        state = cursor_state.newest(self._table_state(con, schema), self._variable_state())
        if state is None:
            state = self._legacy_state()
        return state

    def _table_state(self, con: psycopg.Connection[Any], schema: str) -> CursorState | None:
        """This destination's row of the state table, locked (``FOR UPDATE``); read unlocked by a role that
        may read the table but not update it (the advisory lock above already makes loads take turns; its
        new state then goes to the Variable). A role that may not read it fails the load: the row there
        may say what it already holds."""
        import psycopg

        for lock in (True, False):
            try:
                with con.transaction():  # a savepoint
                    return cursor_state.read_table_state(
                        con, schema, self.dag_id, self.source, self.destination, lock=lock
                    )
            except psycopg.errors.InsufficientPrivilege as error:
                reason = str(error).strip().splitlines()[0]
        raise LogiDataTaskError(
            f"{self.owner}: cannot read {schema}.{STATE_TABLE} ({reason}), where this destination's cursor "
            "is kept: without it the rows already loaded cannot be told from new ones. Grant the "
            "connection's role SELECT on it (and INSERT, UPDATE to keep the cursor there rather than in an "
            "Airflow Variable). Nothing was written."
        )

    def commit_postgres(self, con: psycopg.Connection[Any], schema: str) -> None:
        """Still inside the load's transaction, after the rows were applied: write the new state next to
        them (a savepoint: a role that may not create or write the state table falls back to the Variable,
        saved by :meth:`after_commit`)."""
        import psycopg
        from psycopg import sql

        if self.filter is None:
            return
        self._log_filtered()
        self.new_state = self.filter.new_state()
        if self.new_state is None:
            return
        table = sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(STATE_TABLE))
        try:
            with con.transaction():  # a savepoint
                exists = con.execute(
                    "SELECT to_regclass(quote_ident(%s) || '.' || quote_ident(%s))", (schema, STATE_TABLE)
                ).fetchone()
                if exists is None or exists[0] is None:
                    con.execute(
                        sql.SQL(
                            "CREATE TABLE IF NOT EXISTS {} (dag_id text NOT NULL, source_task text NOT NULL, "
                            "destination_task text NOT NULL, state jsonb NOT NULL, "
                            "committed_at timestamptz NOT NULL DEFAULT now(), "
                            "PRIMARY KEY (dag_id, source_task, destination_task))"
                        ).format(table)
                    )
                    con.execute(
                        sql.SQL("COMMENT ON TABLE {} IS {}").format(
                            table,
                            sql.Literal(
                                "LogiData incremental cursors: per (DAG, source task, destination task), the "
                                "largest cursor value loaded and the rows loaded at that value. Written in "
                                "the same transaction as the rows. Delete a row to load everything again."
                            ),
                        )
                    )
                con.execute(
                    sql.SQL(
                        "INSERT INTO {} (dag_id, source_task, destination_task, state, committed_at) "
                        "VALUES (%s, %s, %s, %s::jsonb, now()) ON CONFLICT (dag_id, source_task, "
                        "destination_task) DO UPDATE SET state = EXCLUDED.state, committed_at = now()"
                    ).format(table),
                    (self.dag_id, self.source, self.destination, json.dumps(self.new_state.to_json())),
                )
            self.in_transaction = True
            self.state_table = f"{schema}.{STATE_TABLE}"
        except psycopg.errors.InsufficientPrivilege as error:
            self.fallback = str(error).strip().splitlines()[0]
        except psycopg.Error as error:
            raise LogiDataTaskError(
                f"{self.owner}: cannot save the cursor in {schema}.{STATE_TABLE}: "
                f"{str(error).strip().splitlines()[0]}. If a table of yours has that name, rename it. "
                "Nothing was written."
            ) from None

    # --- files ----------------------------------------------------------------------------------------

    def begin_file(
        self, reader: pa.RecordBatchReader, *, embedded: CursorState | None = None
    ) -> pa.RecordBatchReader:
        """Read the state and filter the input.

        The state is the Variable's, or its pending state when that write landed (see the module doc), or
        the copy inside the target file when that one is newer (a file committed by a version that saved
        no pending entry, and whose Variable could not be saved).
        """
        state = cursor_state.newest(self._file_variable_state(), embedded)
        self.own_state = state
        if state is None:
            state = self._legacy_state()
        return self._start_filter(state, reader, needs_boundary=True)  # type: ignore[no-any-return]

    def _file_variable_state(self) -> CursorState | None:
        """The Variable's state, its pending entry resolved: adopted when its write landed, else ignored.

        Costs one look at one place (a Parquet file's footer, a CSV file's size, a folder's listing), only
        when there is a pending entry (a save after a commit failed).
        """
        raw = self.variables.get(self.variable_key)
        committed = CursorState.parse(raw, f"Variable {self.variable_key}")
        pending = raw.get(PENDING) if isinstance(raw, Mapping) else None
        if not isinstance(pending, Mapping):
            return committed
        uri = str(pending.get("uri"))
        origin = f"pending in Variable {self.variable_key}, found in {uri}"
        adopted = CursorState.parse(pending.get("state"), origin)
        if adopted is not None and pending_landed(pending, self.variable_key, owner=self.owner, log=self.log):
            self.log.info(
                f"{self.destination}: an earlier load committed {uri} but could not save its cursor as "
                f"committed; {uri} holds what it wrote, so its cursor {adopted.value!r} "
                f"({cursor_filter.boundary_size(adopted.boundary)} row(s) at that value) counts"
            )
            return adopted
        self.log.info(
            f"{self.destination}: an earlier load was about to commit {uri} but that write never landed; "
            "its pending cursor is ignored"
        )
        return committed

    def write_token(self) -> str:
        """Names the files of one cursor load into a folder: the same for every attempt that starts from
        the same state (a retry after a failure before the cursor was saved replaces its files)."""
        import hashlib

        state = self.filter.state if self.filter is not None else None
        payload = json.dumps([self.variable_key, None if state is None else state.to_json()], sort_keys=True)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:12]

    def file_state(self) -> CursorState | None:
        """The new state, once the input has been read (to embed in a Parquet file before it is closed)."""
        if self.filter is None:
            return None
        if self.new_state is None:
            self._log_filtered()
            self.new_state = self.filter.new_state()
        return self.new_state

    def before_file_commit(
        self,
        uri: str,
        *,
        file_format: str | None = None,
        size: int | None = None,
        files: Mapping[str, int] | None = None,
    ) -> None:
        """Just before files are committed (written completely, not yet in place): save the new state as
        pending, next to the committed one (see the module doc), so that the next load finds it even if
        saving it as committed fails after the commit. A single file gives its ``file_format`` and
        ``size``, a folder its new ``files`` (relative path: size). Raises (the caller then discards what
        it wrote: nothing is written) when the Variable cannot be saved."""
        state = self.file_state()
        if state is None:
            return  # the cursor does not move: nothing to save after the commit either
        entry: dict[str, Any] = {"uri": uri, "state": state.to_json()}
        if files is not None:
            entry["files"] = dict(files)
        else:
            entry.update({"format": file_format, "bytes": size})
        value = {**(self.own_state.to_json() if self.own_state is not None else {}), PENDING: entry}
        try:
            self.variables.set(self.variable_key, value)
        except Exception as error:
            raise LogiDataTaskError(
                f"{self.owner}: cannot save the cursor this load is about to commit as the Airflow Variable "
                f"{self.variable_key}: {error!r}. Nothing was written ({uri} is unchanged); retry this task."
            ) from error
        self.pending_uri = uri

    # --- after the commit ---------------------------------------------------------------------------

    def after_commit(self) -> None:
        """Once the data is committed: save the state where it was not saved with the data, and log."""
        if self.filter is None:
            return
        if self.module == DESTINATION_FILE:
            self.file_state()
        state = self.new_state
        if state is None:
            self.log.info(
                f"{self.destination}: cursor of source {self.source!r} unchanged (no row read beyond it)"
            )
            return
        if self.in_transaction:
            self.log.info(
                f"{self.destination}: cursor of {self.destination} committed in the same transaction: "
                f"{state.value!r} ({self.state_table}, {cursor_filter.boundary_size(state.boundary)} row(s) "
                "at that value)"
            )
            return
        if self.module == DESTINATION_POSTGRES:
            self.log.warning(
                f"{self.owner}: the connection's role may not create or write {STATE_TABLE} "
                f"({self.fallback}); saving the cursor as the Airflow Variable {self.variable_key} right "
                "after the commit instead. Grant CREATE on the schema to keep it in the same transaction as "
                "the rows."
            )
        try:
            self.variables.set(self.variable_key, state.to_json())  # a pending entry goes with it
        except Exception as error:
            if self.pending_uri is not None:
                then = (
                    f" Its Variable holds the new cursor as pending: the next load of this destination (a "
                    f"retry, or the next run whatever file it writes) finds it in {self.pending_uri} and "
                    "adopts it, so no row is written twice."
                )
            elif self.module == DESTINATION_FILE:
                then = " Retry this task: it finds what it already wrote and saves the cursor."
            else:
                then = " Retry this task to save it; until then the next run loads these rows again."
            raise LogiDataTaskError(
                f"{self.owner}: the data was committed but its cursor could not be saved as the Airflow "
                f"Variable {self.variable_key}: {error!r}.{then}"
            ) from error
        self.log.info(
            f"{self.destination}: cursor of {self.destination} saved as the Airflow Variable "
            f"{self.variable_key} right after the commit: {state.value!r} "
            f"({cursor_filter.boundary_size(state.boundary)} row(s) at that value)"
        )
