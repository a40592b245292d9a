"""Airflow operators of the LogiData modules, one per module (see ``modules.builtin``).

Import-light: these modules are imported at DAG parse time and load only ``airflow.sdk`` and the config
models; the engine is imported inside ``execute``.
"""

from __future__ import annotations
