"""The ``logidata`` console script (see :mod:`airflow_provider_logidata.cli.main`)."""

from __future__ import annotations
