"""Run now, and recent runs with per-node state, rows and seconds (the canvas overlay)."""

from __future__ import annotations

from typing import Annotated, Any

from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity

# FastAPI resolves the route annotations at run time: these imports must not move under TYPE_CHECKING.
from airflow.api_fastapi.common.dagbag import DagBagDep  # noqa: TC002
from airflow.api_fastapi.common.db.common import SessionDep  # noqa: TC002
from airflow.api_fastapi.core_api.security import GetUserDep  # noqa: TC002
from fastapi import APIRouter, Depends, HTTPException, Query, Request, status

from airflow_provider_logidata.api.deps import (
    PipelineIdPath,
    StoreDep,
    check_pipeline_access,
    pipeline_access,
)
from airflow_provider_logidata.api.errors import ApiError
from airflow_provider_logidata.api.models import Error, Run, RunBody, RunCreated, RunList
from airflow_provider_logidata.api.runs import (
    METRICS_KEY,
    OUTPUT_PREFIX,
    RETURN_KEY,
    collect_tasks,
    node_runs,
    plan_node_tasks,
    state_text,
)
from airflow_provider_logidata.store import PipelineNotFound, UnreadablePipeline

router = APIRouter(prefix="/pipelines", tags=["runs"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Error, "description": "Invalid pipeline id"},
    401: {"model": Error, "description": "Not logged in"},
    403: {"model": Error, "description": "Your Airflow role may not do this"},
}


def _not_parsed(pipeline_id: str, store: Any) -> ApiError:
    try:
        status_text = store.get(pipeline_id).data.get("status", "active")
    except (PipelineNotFound, UnreadablePipeline):
        status_text = None
    if status_text == "draft":
        hint = "it is a draft: save it as active first"
    elif status_text is None:
        hint = "no such pipeline is stored"
    else:
        hint = (
            "Airflow has not parsed it yet (the DAG processor picks up saved pipelines within its refresh "
            "interval) or it failed to load: see `logidata report` or the DAG processor log"
        )
    return ApiError(status.HTTP_409_CONFLICT, f"DAG {pipeline_id!r} cannot run: {hint}")


@router.post(
    "/{pipeline_id}/runs",
    operation_id="run_pipeline",
    status_code=status.HTTP_201_CREATED,
    dependencies=[Depends(pipeline_access("POST", DagAccessEntity.RUN))],
    responses={
        **_ERRORS,
        400: {"model": Error, "description": "Invalid pipeline id, or Airflow refused the run (conf)"},
        403: {
            "model": Error,
            "description": "Your Airflow role may not trigger this DAG (or unpause it: DAG edit)",
        },
        409: {"model": Error, "description": "The DAG is not parsed yet (or the pipeline is a draft)"},
        413: {"model": Error, "description": "Request body over 2 MiB"},
        422: {"model": Error, "description": "Invalid request body"},
    },
)
def run_pipeline(
    pipeline_id: PipelineIdPath,
    dag_bag: DagBagDep,
    user: GetUserDep,
    session: SessionDep,
    request: Request,
    store: StoreDep,
    body: RunBody,
) -> RunCreated:
    """Trigger a manual DAG run now, through Airflow's own trigger (same checks as the Trigger button).

    Needs DAG run create permission on the DAG, as Airflow's trigger endpoint; unpausing a paused DAG
    (``unpause``, the default) also needs DAG edit permission, as Airflow's pause toggle. The body is
    required (``{}`` is enough): a JSON body cannot be sent cross-site without a CORS preflight, so a
    forged form post cannot start runs with the user's cookie.
    """
    from airflow._shared.timezones import timezone
    from airflow.api_fastapi.core_api.datamodels.dag_run import TriggerDAGRunPostBody
    from airflow.api_fastapi.core_api.routes.public.dag_run import trigger_dag_run
    from airflow.models.dag import DagModel
    from sqlalchemy import select

    dag_model = session.scalar(select(DagModel).where(DagModel.dag_id == pipeline_id))
    if dag_model is None or dag_model.is_stale:
        raise _not_parsed(pipeline_id, store)
    unpaused = False
    if dag_model.is_paused and body.unpause:
        try:
            check_pipeline_access("PUT", pipeline_id, request, user)
        except HTTPException as exc:
            raise ApiError(
                status.HTTP_403_FORBIDDEN,
                f"Forbidden: DAG {pipeline_id!r} is paused and unpausing it needs DAG edit permission, "
                "which your Airflow role does not have; send unpause: false to queue the run while the "
                "DAG stays paused, or ask someone who may edit it to unpause it",
            ) from exc
        dag_model.is_paused = False
        unpaused = True
    trigger = TriggerDAGRunPostBody(logical_date=timezone.utcnow(), conf=body.conf)
    try:
        dag_run: Any = trigger_dag_run(pipeline_id, trigger, dag_bag, user, session, request)
    except HTTPException as exc:
        if exc.status_code == status.HTTP_404_NOT_FOUND:
            raise _not_parsed(pipeline_id, store) from None
        raise
    return RunCreated(
        dag_id=pipeline_id,
        run_id=str(dag_run.run_id),
        state=state_text(dag_run.state) or "queued",
        unpaused=unpaused,
    )


@router.get(
    "/{pipeline_id}/runs",
    operation_id="list_runs",
    dependencies=[Depends(pipeline_access("GET", DagAccessEntity.RUN))],
    responses=_ERRORS,
)
def list_runs(
    pipeline_id: PipelineIdPath,
    session: SessionDep,
    store: StoreDep,
    limit: Annotated[int, Query(ge=1, le=100, description="How many runs, newest first.")] = 10,
) -> RunList:
    """Recent runs, newest first, each with the state, rows and seconds of every node."""
    from airflow.models.dag import DagModel
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from sqlalchemy import or_, select

    dag_found = session.scalar(select(DagModel.dag_id).where(DagModel.dag_id == pipeline_id)) is not None
    runs = session.scalars(
        select(DagRun)
        .where(DagRun.dag_id == pipeline_id)
        .order_by(DagRun.run_after.desc(), DagRun.id.desc())
        .limit(limit)
    ).all()
    if not runs:
        return RunList(dag_found=dag_found, runs=[])
    run_ids = [run.run_id for run in runs]
    ti_rows = session.execute(
        select(
            TaskInstance.run_id,
            TaskInstance.task_id,
            TaskInstance.state,
            TaskInstance.start_date,
            TaskInstance.end_date,
            TaskInstance.duration,
        ).where(
            TaskInstance.dag_id == pipeline_id,
            TaskInstance.run_id.in_(run_ids),
            TaskInstance.map_index == -1,
        )
    ).all()
    xcom_rows = session.execute(
        select(XComModel.run_id, XComModel.task_id, XComModel.key, XComModel.value).where(
            XComModel.dag_id == pipeline_id,
            XComModel.run_id.in_(run_ids),
            XComModel.map_index == -1,
            or_(
                XComModel.key.in_([METRICS_KEY, RETURN_KEY]),
                XComModel.key.like(f"{OUTPUT_PREFIX.replace('_', '!_')}%", escape="!"),
            ),
        )
    ).all()
    decoded = [(r.run_id, r.task_id, r.key, XComModel.deserialize_value(r)) for r in xcom_rows]
    tasks_by_run = collect_tasks(ti_rows, decoded)

    try:
        data: Any = store.get(pipeline_id).data
    except (PipelineNotFound, UnreadablePipeline):
        data = {}
    mapping = plan_node_tasks(data)
    return RunList(
        dag_found=dag_found,
        runs=[
            Run(
                run_id=run.run_id,
                state=state_text(run.state),
                start_date=run.start_date,
                end_date=run.end_date,
                nodes=node_runs(data, mapping, tasks_by_run.get(run.run_id, {})),
            )
            for run in runs
        ],
    )
