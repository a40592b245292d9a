"""The FastAPI app the plugin mounts at ``/logidata``: the API at ``/api``, the builder UI at ``/ui``.

The API is its own sub-app so its OpenAPI document (``/logidata/api/openapi.json``) lists exactly the
API, with paths relative to ``/logidata/api`` as the UI's client uses them.
"""

from __future__ import annotations

import copy
import functools
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from airflow_provider_logidata.api.convert import SPEC_ALWAYS_PRESENT
from airflow_provider_logidata.api.errors import CatchAllMiddleware, install_error_handlers
from airflow_provider_logidata.api.limits import BodyLimitMiddleware
from airflow_provider_logidata.api.models import DOCUMENT_REF, SPEC_MARKER, SPEC_REF

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

TITLE = "LogiData builder API"
API_VERSION = "1"
MOUNT_PREFIX = "/logidata"
API_PREFIX = "/api"
# Spec model names in the pipeline spec → names in the OpenAPI document (what the UI imports).
SPEC_SCHEMA_NAMES = {"Pipeline": "Spec", "Node": "SpecNode", "Edge": "SpecEdge", "Position": "Position"}


def spec_components() -> dict[str, Any]:
    """The pipeline spec's JSON Schema as OpenAPI components (Spec, SpecNode, SpecEdge, Position)."""
    from airflow_provider_logidata.spec.models import Pipeline

    schema = Pipeline.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = schema.pop("$defs", {})
    components = {SPEC_SCHEMA_NAMES.get(name, name): sub for name, sub in defs.items()}
    components[SPEC_SCHEMA_NAMES["Pipeline"]] = schema

    def rename(node: Any) -> Any:
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                if key == "$ref" and isinstance(value, str):
                    name = value.rsplit("/", 1)[-1]
                    value = f"#/components/schemas/{SPEC_SCHEMA_NAMES.get(name, name)}"
                out[key] = rename(value)
            return out
        if isinstance(node, list):
            return [rename(item) for item in node]
        return node

    result: dict[str, Any] = rename(components)
    # The UI's type has these non-optional (it always sends them; answers carry them too).
    result["Spec"]["required"] = list(SPEC_ALWAYS_PRESENT)
    return result


# Pipeline documents in answers (see models.StoredDoc): what the store holds, valid or not.
PIPELINE_DOCUMENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "PipelineDocument",
    "description": (
        "A pipeline document as stored. A valid pipeline matches Spec; a draft or a hand-written file "
        "may be incomplete or hold values of the wrong type (the answer's `errors` list every problem), "
        "so only these keys are guaranteed to be present, with any value."
    ),
    "required": list(SPEC_ALWAYS_PRESENT),
    "properties": {key: {"description": "Present; Spec has the valid value."} for key in SPEC_ALWAYS_PRESENT},
    "additionalProperties": True,
}


def _replace_spec_markers(node: Any) -> Any:
    """Swap each pipeline-document placeholder for a reference to its schema (keeping siblings)."""
    if isinstance(node, dict):
        marker = node.get(SPEC_MARKER)
        if marker:
            ref = DOCUMENT_REF if marker == "document" else SPEC_REF
            rest = {k: v for k, v in node.items() if k not in (SPEC_MARKER, "type", "title")}
            if not rest:
                return {"$ref": ref}
            return {"allOf": [{"$ref": ref}], **{k: _replace_spec_markers(v) for k, v in rest.items()}}
        return {key: _replace_spec_markers(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_replace_spec_markers(item) for item in node]
    return node


ERROR_CONTENT = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
# Answers any operation can give whatever its route declares: the error handlers (errors.py), the body
# limit (limits.py) and the access dependencies (deps.py) answer them before or around the route.
_BODY_ERRORS = {
    "400": "Malformed JSON in the request body",
    "413": "Request body over 2 MiB",
    "422": "Invalid request: every problem with its path",
}
_ID_ERROR = "Invalid pipeline id (see the parameter's pattern)"
_SERVER_ERROR = (
    "Internal error (e.g. the pipeline store cannot be written); the api-server log has the details"
)


def _declare_common_errors(operation: dict[str, Any]) -> None:
    """Every status an operation can answer, each with the Error shape (FastAPI's own 422 model too)."""
    responses = operation.setdefault("responses", {})
    if "422" in responses:  # FastAPI's generic validation-error model → the Error shape
        responses["422"] = {"description": responses["422"].get("description", "Invalid request")}
    wanted: dict[str, str] = {}
    if "requestBody" in operation:
        wanted.update(_BODY_ERRORS)
    if any(p.get("in") == "path" and p.get("name") == "pipeline_id" for p in operation.get("parameters", [])):
        wanted["400"] = responses.get("400", {}).get("description") or _ID_ERROR
    wanted["500"] = _SERVER_ERROR
    for code, description in wanted.items():
        responses.setdefault(code, {"description": description})
    for code, response in responses.items():
        if code[0] in "45" and "content" not in response:
            response["content"] = ERROR_CONTENT


def build_openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    document = get_openapi(
        title=TITLE,
        version=API_VERSION,
        description=(
            "REST API of the LogiData pipeline builder, mounted by the LogiData Airflow plugin. "
            "Authenticate with Airflow's `_token` cookie or `Authorization: Bearer <token>` from "
            "`POST /auth/token`. Every error answer is `{detail, errors: [{path, message, node_id}]}`."
        ),
        routes=app.routes,
        servers=[{"url": f"{MOUNT_PREFIX}{API_PREFIX}"}],
    )
    document = _replace_spec_markers(document)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in spec_components().items():
        if name in schemas and schemas[name] != schema:
            raise ValueError(f"OpenAPI schema name {name!r} is used by the API and by the spec; rename one")
        schemas[name] = schema
    schemas["PipelineDocument"] = PIPELINE_DOCUMENT_SCHEMA
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            _declare_common_errors(operation)
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    app.openapi_schema = document
    return document


def create_api_app() -> FastAPI:
    from airflow_provider_logidata.api.routes import locations as locations_routes
    from airflow_provider_logidata.api.routes import meta, pipelines, runs, trash
    from airflow_provider_logidata.api.routes import preview as preview_routes
    from airflow_provider_logidata.api.routes import suggest as suggest_routes

    app = FastAPI(
        title=TITLE,
        version=API_VERSION,
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    install_error_handlers(app)
    app.add_middleware(CatchAllMiddleware)
    app.add_middleware(BodyLimitMiddleware)  # added last = outermost: oversize bodies never reach routes
    app.include_router(meta.router)
    app.include_router(pipelines.router)
    app.include_router(trash.router)  # deleted pipelines, for restore (issue 15)
    app.include_router(runs.router)
    app.include_router(suggest_routes.router)  # suggestions and Describe a step (issue 5)
    app.include_router(preview_routes.router)  # data preview (issue 5)
    app.include_router(locations_routes.router)  # the path picker's data locations
    app.openapi = functools.partial(build_openapi, app)  # type: ignore[method-assign]
    return app


def _share_airflow_state(*apps: FastAPI) -> None:
    """What Airflow's dependencies read from ``request.app.state`` inside a plugin app."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.common.dagbag import create_dag_bag

    auth_manager = get_auth_manager()
    dag_bag = create_dag_bag()
    for app in apps:
        app.state.auth_manager = auth_manager
        if getattr(app.state, "dag_bag", None) is None:
            app.state.dag_bag = dag_bag


def create_app() -> FastAPI:
    """The app mounted at ``/logidata`` (Airflow enters its lifespan when the api-server starts)."""
    from airflow_provider_logidata.api import static

    api = create_api_app()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        _share_airflow_state(app, api)
        from airflow_provider_logidata import settings
        from airflow_provider_logidata.preview import service as preview_service

        if settings.preview_prestart():
            preview_service.start()  # workers import DuckDB and the engine now, not on the first click
        try:
            yield
        finally:
            preview_service.shutdown()

    app = FastAPI(
        title="LogiData builder", lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None
    )
    install_error_handlers(app)
    app.include_router(static.router)
    app.mount(API_PREFIX, api)
    app.state.api = api
    return app


@functools.cache
def get_app() -> FastAPI:
    """The one app instance of this process (the plugin hands it to Airflow)."""
    return create_app()


def openapi_document() -> dict[str, Any]:
    """The API's OpenAPI document, built without starting anything (for the exporter and tests)."""
    return copy.deepcopy(create_api_app().openapi())
