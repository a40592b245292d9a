"""``operators.base.frozen_heap``: the objects a task process held before ``execute`` are kept out of the
cyclic garbage collector's way for the run, and the process's own freezing choice survives it."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_logidata.operators.base import frozen_heap


@pytest.fixture
def unfrozen() -> Any:
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_objects_held_before_the_run_are_frozen_during_it_and_released_after(unfrozen: None) -> None:
    held = [[index] for index in range(1000)]  # gc-tracked objects the "process" held before the run
    with frozen_heap():
        assert gc.get_freeze_count() >= len(held)
        created = [[index] for index in range(10)]
    assert gc.get_freeze_count() == 0  # a process running several tasks (dag.test) collects them again
    assert created and held


def test_a_process_that_froze_its_own_objects_keeps_them_frozen(unfrozen: None) -> None:
    # Held here, so none of them is freed meanwhile (other frozen objects may be, which lowers the count).
    held = [[index] for index in range(1000)]
    gc.freeze()
    with frozen_heap():
        pass
    assert gc.get_freeze_count() >= len(held) > 0


def test_unfrozen_even_when_the_run_fails(unfrozen: None) -> None:
    with pytest.raises(RuntimeError), frozen_heap():
        raise RuntimeError("the task failed")
    assert gc.get_freeze_count() == 0


def test_execute_runs_inside_the_frozen_heap(tmp_path: Path) -> None:
    """Through a real operator's execute() in a fresh process: the run sees the held objects frozen and
    nothing stays frozen afterwards."""
    script = """
import gc, json
from airflow_provider_logidata.operators.transforms import FilterRowsOperator
seen = {}
def run(self, config, handles, input_ids, context):
    seen["during"] = gc.get_freeze_count()
    return None
FilterRowsOperator.run = run
class TI:
    def xcom_push(self, key, value):
        pass
op = FilterRowsOperator(task_id="t", config={"condition": "a > 1"}, inputs=[])
op.execute({"ti": TI()})
print(json.dumps({"during": seen["during"], "after": gc.get_freeze_count()}))
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=tmp_path
    ).stdout
    counts = json.loads(out.strip().splitlines()[-1])
    assert counts["during"] > 10_000  # Airflow's SDK and the provider's modules
    assert counts["after"] == 0
