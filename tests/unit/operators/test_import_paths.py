"""The operator import paths README.md promises hand-written DAGs: each imports, and none is missing.

The list is read from the README itself (section "Operators in hand-written DAGs"), so the document and
the code cannot drift: a path that stops working fails here, and so does a new built-in module whose
operator the README does not list.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from airflow_provider_logidata.modules.registry import builtin_registry, registry
from airflow_provider_logidata.operators.base import LogiDataOperator

README = Path(__file__).resolve().parents[3] / "README.md"
SECTION = "## Operators in hand-written DAGs"
BULLET = re.compile(r"^- `(airflow_provider_logidata\.operators\.\w+)`: (.+)$")


def listed_paths() -> dict[str, list[str]]:
    """``{module path: [class names]}`` of the README's list."""
    text = README.read_text(encoding="utf-8")
    assert SECTION in text, f"README.md lost its section {SECTION!r}"
    body = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    paths: dict[str, list[str]] = {}
    for line in body.splitlines():
        found = BULLET.match(line)
        if found:
            paths[found[1]] = re.findall(r"`(\w+Operator)`", found[2])
    assert paths, "no operator paths found in the README section"
    return paths


PATHS = listed_paths()


@pytest.mark.parametrize(
    "dotted",
    [f"{module}.{name}" for module, names in PATHS.items() for name in names],
)
def test_every_listed_path_imports(dotted: str) -> None:
    module_path, _, name = dotted.rpartition(".")
    cls = getattr(importlib.import_module(module_path), name)
    assert isinstance(cls, type) and issubclass(cls, LogiDataOperator), dotted
    assert cls.__name__ == name


def test_every_module_has_its_operator_listed() -> None:
    """Each built-in module's operator class is listed under the path it is generated or defined in."""
    listed = {f"{module}.{name}" for module, names in PATHS.items() for name in names}
    for definition in builtin_registry():
        cls = definition.operator_class()
        assert f"{cls.__module__}.{cls.__name__}" in listed, (
            f"README.md does not list {definition.name}'s operator"
        )
    assert {
        "airflow_provider_logidata.operators.chain.FusedChainOperator",
        "airflow_provider_logidata.operators.elt.ELTOperator",
    } <= listed


def test_the_old_catalog_path_gives_the_same_classes() -> None:
    transforms = importlib.import_module("airflow_provider_logidata.operators.transforms")
    catalog = importlib.import_module("airflow_provider_logidata.operators.catalog")
    for name in PATHS["airflow_provider_logidata.operators.catalog"]:
        assert getattr(catalog, name) is getattr(transforms, name)


def test_a_pack_operator_imports_like_a_built_in_one() -> None:
    """The example pack installed in the test environment (tests/packs): no operator code of its own."""
    from airflow_provider_logidata.operators.transforms import MaskTextOperator

    assert MaskTextOperator is registry()["mask_text"].operator_class()
    assert MaskTextOperator.__module__ == "airflow_provider_logidata.operators.transforms"
