"""LogiData: visual ETL/ELT pipelines that live inside Apache Airflow.

Kept import-free on purpose: the DAG processor imports this package on every parse.
"""

from __future__ import annotations

__version__ = "0.1.0"
