"""PostgreSQL source and destination: importing this module registers both with the engine.

``source.postgres`` is registered by ``engine.pg_read`` and ``destination.postgres`` by ``engine.pg_load``;
this module imports the two for a caller that wants both (a benchmark, a script). The engine's PostgreSQL
code, one job a file:

- ``pg_connect``: connection arguments, ``connect``, ``confine`` (read-only, statement timeout), the role
  warning and PostgreSQL's errors worded for the task log;
- ``pg_read_plan`` and ``pg_read``: the source, streamed through psycopg 3 ``COPY TO`` into Arrow;
- ``pg_load_plan``, ``pg_target``, ``pg_finalize`` and ``pg_load``: the destination, one transaction that
  prepares the table, writes the rows (``COPY``, ``engine.pg_copy``) and applies them (append, replace by
  table swap, ``engine.pg_swap``, or merge); ``pg_target`` and ``pg_finalize`` are shared with ELT
  (``engine.elt``);
- ``pg_types`` and ``pg_contract``: the type contract between an input and an existing table;
  ``pg_checks``: the connection role's checks.
"""

from __future__ import annotations

from airflow_provider_logidata.engine import pg_load, pg_read  # noqa: F401  (registers the modules)
