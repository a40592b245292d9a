"""One measurement, run in a fresh interpreter by ``run.py``: ``python parse_once.py DAGS_FOLDER RESULT_JSON``.

Imports Airflow first (timed separately), then times only ``DagBag(...)`` over a folder holding just one
loader file, and writes the figures as JSON to RESULT_JSON (stdout is left to Airflow's logging).
"""

from __future__ import annotations

import json
import sys
import time


def main() -> int:
    dags_folder, result_path = sys.argv[1], sys.argv[2]

    start = time.perf_counter()
    import inspect

    import airflow
    import airflow.sdk
    from airflow.dag_processing.dagbag import DagBag

    import_s = time.perf_counter() - start

    kwargs: dict[str, object] = {"dag_folder": dags_folder}
    if "include_examples" in inspect.signature(DagBag.__init__).parameters:  # removed in Airflow 3.x
        kwargs["include_examples"] = False

    start = time.perf_counter()
    bag = DagBag(**kwargs)  # type: ignore[arg-type]
    parse_s = time.perf_counter() - start

    tasks = sum(len(dag.tasks) for dag in bag.dags.values())
    edges = sum(len(task.downstream_task_ids) for dag in bag.dags.values() for task in dag.tasks)
    result = {
        "airflow_version": airflow.__version__,
        "import_s": import_s,
        "parse_s": parse_s,
        "dags": len(bag.dags),
        "tasks": tasks,
        "edges": edges,
        "import_errors": {str(k): str(v)[-2000:] for k, v in list(bag.import_errors.items())[:5]},
    }
    with open(result_path, "w", encoding="utf-8") as fh:
        json.dump(result, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
