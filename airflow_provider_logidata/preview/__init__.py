"""Data preview at any node of a pipeline: run only the sub-graph upstream of the node, on a sample.

Kept import-light on purpose: the API imports this package at start-up, while the heavy work (DuckDB,
drivers, connections) happens in the worker processes of :mod:`airflow_provider_logidata.preview.pool`.
"""

from __future__ import annotations
