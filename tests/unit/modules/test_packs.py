"""modules.packs: which entry points become modules, and how each broken one is reported.

In-memory entry points of a real distribution (a ``.dist-info`` folder under tmp_path, read by
``importlib.metadata``) naming in-memory Python modules: each case runs ``load_packs`` on a fresh
registry holding one built-in module. The installed packs are proven end to end elsewhere
(tests/packs, tests/integration/test_packs_e2e.py).
"""

from __future__ import annotations

import logging
import sys
import types
from dataclasses import dataclass, field, replace
from importlib.metadata import EntryPoint, PathDistribution
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from airflow_provider_logidata.modules.base import ModuleConfig
from airflow_provider_logidata.modules.packs import load_packs, problem_with
from airflow_provider_logidata.modules.registry import ModuleDef, ModuleRegistry, PackError

DIST = "acme-modules"


class Opaque:
    """A type pydantic cannot describe in JSON Schema."""


class GoodConfig(ModuleConfig):
    width: int = 1


class NoSchemaConfig(ModuleConfig):
    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)
    thing: Opaque | None = None


class PlainConfig(BaseModel):
    width: int = 1


def _build(ctx: Any, relation: str, columns: Any) -> str:
    return f"SELECT * FROM {relation}"


def module(name: str, **changes: Any) -> ModuleDef:
    base = ModuleDef(
        name=name,
        category="transform",
        label=name.title(),
        description="A test module.",
        config_model=GoodConfig,
        duckdb=_build,
    )
    return replace(base, **changes)


BUILTIN = module("filter_rows")


def _file(**attributes: Any) -> types.ModuleType:
    made = types.ModuleType("acme_file")
    made.__dict__.update(attributes)
    return made


def _raises() -> None:
    """Marks a target whose module file fails at import (it imports a dependency that is missing)."""


@dataclass
class Case:
    id: str
    # entry point name -> what its target is (a module file, a ModuleDef, ...), or a callable raising
    # at import
    points: dict[str, Any]
    loaded: list[str] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (entry point, message part)


CASES = [
    Case("module-file", {"mask": _file(MODULE=module("mask"))}, loaded=["mask"]),
    Case(
        "modules-list", {"two": _file(MODULES=[module("a_one"), module("a_two")])}, loaded=["a_one", "a_two"]
    ),
    Case("module-def-itself", {"direct": module("direct")}, loaded=["direct"]),
    Case(
        "own-operator-no-builder",
        {"lineage": module("lineage", duckdb=None, operator="acme.operators.LineageOperator")},
        loaded=["lineage"],
    ),
    Case(
        "import-fails",
        {"boom": _raises},
        errors=[("boom", "cannot be loaded: ModuleNotFoundError: No module named 'acme_missing_dependency'")],
    ),
    Case(
        "no-module-declared",
        {"empty": _file(OTHER=1)},
        errors=[
            ("empty", "module 'acme_file' declares neither MODULE (a ModuleDef) nor MODULES (ModuleDefs)")
        ],
    ),
    Case(
        "modules-not-moduledefs",
        {"odd": _file(MODULES=[module("fine"), "not a module"])},
        errors=[("odd", "declares neither MODULE")],
    ),
    Case(
        "names-a-function",
        {"func": _build},
        errors=[("func", "names a function, not a module file or a ModuleDef")],
    ),
    Case(
        "clashes-with-builtin",
        {"filter": _file(MODULE=module("filter_rows"))},
        errors=[
            ("filter", "module 'filter_rows': the name is already taken by a built-in module; rename it")
        ],
    ),
    Case(
        "clashes-with-other-pack",
        {"a_first": module("twice"), "b_second": module("twice", label="Again")},
        loaded=["twice"],
        errors=[("b_second", f"module 'twice': the name is already taken by {DIST}; rename it")],
    ),
    Case(
        "bad-category",
        {"cat": module("cat", category="sink")},
        errors=[("cat", "module 'cat': category must be one of source, transform, destination, not 'sink'")],
    ),
    Case(
        "config-not-moduleconfig",
        {"plain": module("plain", config_model=PlainConfig)},
        errors=[
            (
                "plain",
                "config_model must be a subclass of airflow_provider_logidata.modules.base.ModuleConfig",
            )
        ],
    ),
    Case(
        "config-without-json-schema",
        {"opaque": module("opaque", config_model=NoSchemaConfig)},
        errors=[("opaque", "module 'opaque': config_model NoSchemaConfig has no JSON Schema: ")],
    ),
    Case(
        "no-builder-no-operator",
        {"idle": module("idle", duckdb=None)},
        errors=[("idle", "module 'idle': it has no DuckDB builder (duckdb=...) and no operator of its own")],
    ),
    Case(
        "one-bad-module-of-a-file",
        {"mixed": _file(MODULES=[module("kept"), module("filter_rows")])},
        loaded=["kept"],
        errors=[("mixed", "module 'filter_rows': the name is already taken")],
    ),
    Case(
        "bad-points-do-not-stop-good-ones",
        {"a_boom": _raises, "b_good": module("good"), "c_clash": module("filter_rows")},
        loaded=["good"],
        errors=[("a_boom", "cannot be loaded"), ("c_clash", "already taken")],
    ),
]


@pytest.fixture
def points(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Entry points of a real (on-disk) distribution ``acme-modules`` whose targets live in memory."""

    def make(targets: dict[str, Any]) -> list[EntryPoint]:
        info = tmp_path / "acme_modules-1.0.dist-info"
        info.mkdir(exist_ok=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {DIST}\nVersion: 1.0\n")
        lines = ["[logidata.modules]"]
        for name, target in targets.items():
            home = f"acme_target_{name}"
            holder = types.ModuleType(home)
            if target is _raises:
                # Its own folder: the .dist-info next to it must not join the environment's packs.
                code = tmp_path / "code"
                code.mkdir(exist_ok=True)
                (code / f"{home}.py").write_text("import acme_missing_dependency\n")
                monkeypatch.syspath_prepend(str(code))
                lines.append(f"{name} = {home}")
                continue
            if isinstance(target, types.ModuleType):
                monkeypatch.setitem(sys.modules, home, target)
                lines.append(f"{name} = {home}")
                continue
            holder.TARGET = target  # type: ignore[attr-defined]
            monkeypatch.setitem(sys.modules, home, holder)
            lines.append(f"{name} = {home}:TARGET")
        (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
        found = list(PathDistribution(info).entry_points)
        assert all(point.dist is not None and point.dist.name == DIST for point in found)
        return found

    return make


def _registry() -> ModuleRegistry:
    reg = ModuleRegistry()
    reg.register(BUILTIN)
    return reg


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_load_packs(case: Case, points: Any, caplog: pytest.LogCaptureFixture) -> None:
    reg = _registry()
    with caplog.at_level(logging.WARNING, logger="airflow_provider_logidata.modules.packs"):
        load_packs(reg, points(case.points))

    assert sorted(reg.names()) == sorted(["filter_rows", *case.loaded])
    assert reg["filter_rows"] is BUILTIN  # a pack never replaces a built-in module
    for name in case.loaded:
        assert reg[name].pack == DIST
    assert [(e.distribution, e.entry_point) for e in reg.pack_errors] == [(DIST, p) for p, _ in case.errors]
    for error, (_, part) in zip(reg.pack_errors, case.errors, strict=True):
        assert part in error.message
        # Logged as well, naming the distribution and the entry point.
        assert str(error) in caplog.text
        assert str(error).startswith(f"module pack {DIST!r} (entry point {error.entry_point!r}): ")


def test_entry_point_without_distribution() -> None:
    reg = _registry()
    load_packs(reg, [EntryPoint("loose", "acme_nowhere_at_all", "logidata.modules")])
    assert reg.pack_errors == [
        PackError(
            "(unknown distribution)",
            "loose",
            "cannot be loaded: ModuleNotFoundError: No module named 'acme_nowhere_at_all'",
        )
    ]


@pytest.mark.parametrize(
    ("definition", "problem"),
    [
        (module("fresh"), ""),
        (module("filter_rows"), "the name is already taken by a built-in module; rename it"),
        (module("x", category="sink"), "category must be one of source, transform, destination, not 'sink'"),
        (module("x", config_model=dict), "config_model must be a subclass of"),
        (module("x", duckdb=None), "it has no DuckDB builder"),
        (module("x", duckdb=None, operator="a.B"), ""),
    ],
)
def test_problem_with(definition: ModuleDef, problem: str) -> None:
    found = problem_with(definition, _registry())
    assert (found == "") if not problem else problem in found


def test_default_entry_points_are_the_installed_ones() -> None:
    """Without ``points``: the ``logidata.modules`` group of the environment (the example pack here)."""
    reg = _registry()
    load_packs(reg)
    assert reg["mask_text"].pack == "logidata-example-pack"
    assert not reg.pack_errors
