"""Registration of the built-in modules: every file under ``modules/<sources|transforms|destinations>/``.

A module file declares ``MODULE`` (a :class:`ModuleDef`), so adding a module is adding a file: nothing
here lists them. Files are imported in name order, which keeps the registry's order stable.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow_provider_logidata.modules.registry import ModuleRegistry


KINDS: tuple[str, ...] = ("sources", "transforms", "destinations")
_PACKAGE = "airflow_provider_logidata.modules"


def module_files() -> list[str]:
    """Dotted names of the built-in module files, by kind then name."""
    names: list[str] = []
    for kind in KINDS:
        package = importlib.import_module(f"{_PACKAGE}.{kind}")
        found = sorted(
            info.name for info in pkgutil.iter_modules(package.__path__) if not info.name.startswith("_")
        )
        names += [f"{_PACKAGE}.{kind}.{name}" for name in found]
    return names


def register_all(reg: ModuleRegistry) -> None:
    for dotted in module_files():
        reg.register(importlib.import_module(dotted).MODULE)
