"""Which functions a ``python`` node may call.

A pipeline editor may not deploy code, so a ``python`` node may only call code a DAG author deployed in
the DAGs folder, or code in packages an admin listed in ``[logidata] python_modules``. Everything else is
refused before it is imported: ``shutil:rmtree``, ``os:system``, ``builtins:eval``, ``__main__:...`` (the
worker's own entry point), and re-exports such as ``my_dag_module:os.system`` (the function found must be
defined in an allowed module, not merely reachable from one).

Resolution uses the real import machinery: the module's top-level package is located with
``importlib.util.find_spec`` (which executes nothing for a top-level name), its locations must all lie in
the DAGs folder (after resolving symlinks), and after the import the module's file is checked again.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from typing import Any

from airflow_provider_logidata import settings
from airflow_provider_logidata.security.errors import PolicyError

SETTING = "[logidata] python_modules"
# Never callable, whatever python_modules says: the interpreter itself and its entry point.
NEVER_MODULES = ("__main__", "builtins", "__builtin__", "sys", "importlib", "runpy", "code", "codeop")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def split_callable(path: str) -> tuple[str, str]:
    """``package.module:function`` (or ``package.module.function``) as (module name, attribute)."""
    if ":" in path:
        module_name, _, attribute = path.partition(":")
    else:
        module_name, _, attribute = path.rpartition(".")
    return module_name, attribute


def check_static(path: str) -> tuple[str, str]:
    """The checks that need no import: shape, private names, never-allowed modules (validation)."""
    module_name, attribute = split_callable(path)
    parts = module_name.split(".") + attribute.split(".")
    if not module_name or not attribute or not all(_NAME.fullmatch(part) for part in parts):
        raise PolicyError(
            f"callable {path!r} must be a dotted path such as my_package.transforms:clean_orders",
            rule="callable-syntax",
        )
    if module_name.split(".")[0] in NEVER_MODULES or module_name in NEVER_MODULES:
        raise PolicyError(
            f"callable {path!r}: module {module_name!r} is never allowed (it is the interpreter itself); "
            "call a function deployed with the DAGs",
            rule="callable-module",
        )
    private = [part for part in parts if part.startswith("_")]
    if private:
        raise PolicyError(
            f"callable {path!r} names private or internal parts ({', '.join(private)}); call a public "
            "function deployed with the DAGs",
            rule="callable-private",
        )
    return module_name, attribute


def _listed(module_name: str) -> bool:
    allowed = settings.python_modules()
    return "*" in allowed or any(module_name == p or module_name.startswith(p + ".") for p in allowed)


def _dags_root() -> str | None:
    folder = settings.dags_folder()
    return os.path.realpath(folder) if folder else None


def _inside(location: str, root: str) -> bool:
    real = os.path.realpath(location)
    return real.startswith(root + os.sep)


def _top_spec(module_name: str) -> Any:
    """The import spec of the top-level package (``find_spec`` of a top-level name runs no code)."""
    top = module_name.partition(".")[0]
    if top in sys.modules and getattr(sys.modules[top], "__spec__", None) is None:
        return None  # a module without a spec (created at run time) is nobody's deployed code
    try:
        return importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None


def _deployed(module_name: str) -> bool:
    """Whether the top-level package of ``module_name`` lives wholly in the DAGs folder."""
    root = _dags_root()
    if root is None:
        return False
    spec = _top_spec(module_name)
    if spec is None:
        return False
    locations = list(spec.submodule_search_locations or [])
    if spec.origin and spec.has_location:
        locations.append(spec.origin)
    return bool(locations) and all(_inside(location, root) for location in locations)


def refusal(path: str, module_name: str) -> PolicyError:
    allowed = ", ".join(settings.python_modules()) or "(none)"
    return PolicyError(
        f"callable {path!r} is not allowed: module {module_name!r} is not deployed in the DAGs folder "
        f"({settings.dags_folder() or 'unknown'}) and not listed in {SETTING} (now: {allowed}); deploy the "
        "code with the DAGs, or ask an Airflow admin to add its package to python_modules",
        rule="callable-not-allowed",
        setting="python_modules",
    )


def check_module(path: str, module_name: str) -> str:
    """Before the import: the module is listed, or deployed in the DAGs folder. Returns how."""
    check_static(path)
    if _listed(module_name):
        return "listed"
    if _deployed(module_name):
        return "deployed"
    if _top_spec(module_name) is None:
        raise PolicyError(
            f"cannot import module {module_name!r} for callable {path!r}: it is not found on this worker; "
            "deploy the module with the DAGs (the DAGs folder is importable), and check the callable path",
            rule="callable-unresolvable",
        )
    raise refusal(path, module_name)


def check_loaded(path: str, module: Any, how: str) -> None:
    """After the import: a module allowed as deployed code really was loaded from the DAGs folder."""
    if how != "deployed":
        return
    root = _dags_root()
    file = getattr(module, "__file__", None)
    if root is None or not file or not _inside(file, root):
        raise refusal(path, getattr(module, "__name__", "?"))


def check_target(path: str, target: Any) -> None:
    """The function found must be defined in an allowed module (not re-exported from elsewhere)."""
    defined_in = getattr(target, "__module__", None)
    if not isinstance(defined_in, str) or not defined_in:
        raise PolicyError(
            f"callable {path!r} is a {type(target).__name__} whose module is unknown; point callable at a "
            "function defined in code deployed with the DAGs",
            rule="callable-not-allowed",
        )
    if defined_in.split(".")[0] in NEVER_MODULES or defined_in.startswith("_"):
        raise refusal(path, defined_in)
    if _listed(defined_in):
        return
    if not _deployed(defined_in):
        raise refusal(path, defined_in)
    module = sys.modules.get(defined_in)
    if module is not None:
        check_loaded(path, module, "deployed")
