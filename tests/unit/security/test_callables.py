"""python nodes call only code deployed in the DAGs folder or listed in [logidata] python_modules.

Every refusal is proven twice: the policy refuses, and the engine (the code path of runs and previews)
refuses before the module is imported (a module outside the DAGs folder that writes a marker file when
imported is never imported).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_logidata.engine.errors import LogiDataTaskError
from airflow_provider_logidata.modules.transforms.python import load_callable
from airflow_provider_logidata.security import callables
from airflow_provider_logidata.security.errors import PolicyError

UDFS_DIR = Path(__file__).parents[1] / "engine" / "udfs"


@pytest.fixture
def dags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test udfs folder is the DAGs folder; a second folder on sys.path holds undeployed code."""
    monkeypatch.syspath_prepend(str(UDFS_DIR))
    monkeypatch.setenv("AIRFLOW__CORE__DAGS_FOLDER", str(UDFS_DIR))
    monkeypatch.delenv("AIRFLOW__LOGIDATA__PYTHON_MODULES", raising=False)
    elsewhere = tmp_path / "site"
    elsewhere.mkdir()
    marker = tmp_path / "imported.marker"
    (elsewhere / "logidata_undeployed_mod.py").write_text(
        f"from pathlib import Path\nPath({str(marker)!r}).write_text('imported')\n"
        "def fn(df):\n    return df\n"
    )
    monkeypatch.syspath_prepend(str(elsewhere))
    return tmp_path


REFUSED: list[tuple[str, str]] = [
    ("__main__:main", "callable-module"),
    ("__main__.main", "callable-module"),
    ("builtins:eval", "callable-module"),
    ("builtins.exec", "callable-module"),
    ("sys:exit", "callable-module"),
    ("importlib:import_module", "callable-module"),
    ("runpy:run_path", "callable-module"),
    ("os:system", "callable-not-allowed"),
    ("os.path:join", "callable-not-allowed"),
    ("subprocess:run", "callable-not-allowed"),
    ("shutil:rmtree", "callable-not-allowed"),
    ("pickle:loads", "callable-not-allowed"),
    ("airflow.models.connection:Connection", "callable-not-allowed"),
    ("airflow_provider_logidata.settings:get", "callable-not-allowed"),
    ("_io:open", "callable-private"),
    ("logidata_test_udfs:_hidden", "callable-private"),
    ("logidata_test_udfs:Tools.__init__", "callable-private"),
    ("logidata_test_udfs:add_total.__globals__", "callable-private"),
    ("logidata_undeployed_mod:fn", "callable-not-allowed"),
    ("logidata_no_such_module_at_all:fn", "callable-unresolvable"),
    # Reachable from deployed code but defined elsewhere: re-exports are not deployed code.
    ("logidata_test_udfs:pd.read_pickle", "callable-not-allowed"),
    ("logidata_test_udfs:pd.eval", "callable-not-allowed"),
]


@pytest.mark.parametrize(("path", "rule"), REFUSED, ids=[case[0] for case in REFUSED])
def test_refused_and_never_imported(dags: Path, path: str, rule: str) -> None:
    before = set(sys.modules)
    with pytest.raises(LogiDataTaskError) as refused:
        load_callable(path, owner="python node 'py'")
    message = str(refused.value)
    assert message.startswith("python node 'py': ")
    assert not (dags / "imported.marker").exists()
    assert "logidata_undeployed_mod" not in set(sys.modules) - before
    # The same rule through the policy functions the validator and the engine share.
    with pytest.raises(PolicyError) as direct:
        module_name, _ = callables.split_callable(path)
        callables.check_module(path, module_name)
        target: Any = __import__(module_name, fromlist=["_"])
        for part in callables.split_callable(path)[1].split("."):
            target = getattr(target, part)
        callables.check_target(path, target)
    assert direct.value.rule == rule, str(direct.value)


def test_refusal_says_how_to_allow_it(dags: Path) -> None:
    with pytest.raises(LogiDataTaskError) as refused:
        load_callable("shutil:rmtree", owner="python node 'py'")
    message = str(refused.value)
    assert "not deployed in the DAGs folder" in message
    assert "[logidata] python_modules" in message


def test_deployed_code_and_listed_packages_are_allowed(dags: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert callable(load_callable("logidata_test_udfs:add_total", owner="n"))
    assert callable(load_callable("logidata_test_udfs:Tools.upper_names", owner="n"))
    monkeypatch.setenv("AIRFLOW__LOGIDATA__PYTHON_MODULES", "logidata_undeployed_mod")
    assert callable(load_callable("logidata_undeployed_mod:fn", owner="n"))
    assert (dags / "imported.marker").exists()


def test_star_still_refuses_the_interpreter(dags: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__LOGIDATA__PYTHON_MODULES", "*")
    assert callable(load_callable("os.path:join", owner="n"))  # the admin allowed everything
    for path in ("__main__:main", "builtins:eval", "sys:exit"):
        with pytest.raises(LogiDataTaskError, match="never allowed"):
            load_callable(path, owner="n")


def test_a_symlink_into_the_dags_folder_is_not_deployed_code(
    dags: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A package whose files live outside the DAGs folder is refused even when found through a link."""
    folder = tmp_path / "fake_dags"
    folder.mkdir()
    (folder / "logidata_linked_mod.py").symlink_to(dags / "site" / "logidata_undeployed_mod.py")
    monkeypatch.setenv("AIRFLOW__CORE__DAGS_FOLDER", str(folder))
    monkeypatch.syspath_prepend(str(folder))
    with pytest.raises(LogiDataTaskError, match="not allowed"):
        load_callable("logidata_linked_mod:fn", owner="n")
    assert not (dags / "imported.marker").exists()
