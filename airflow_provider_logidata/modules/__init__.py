"""ETL modules: typed config models plus their registry entries (operators live in ``operators``)."""

from __future__ import annotations

from airflow_provider_logidata.modules.registry import ModuleDef, ModuleRegistry, registry

__all__ = ["ModuleDef", "ModuleRegistry", "registry"]
