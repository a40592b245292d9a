"""The LogiData execution engine: staging, DuckDB transforms, sources and destinations.

Import-free on purpose. The operators (imported at DAG parse time) reach the engine only inside
``execute``, so pandas, DuckDB and pyarrow are never loaded by the DAG processor. Only ``errors``,
``sql``, ``logs``, ``files``, ``configs`` and ``staging`` are light enough to import anywhere (the DAG-level
staging cleanup callbacks live in ``staging``).
"""

from __future__ import annotations
