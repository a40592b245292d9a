"""JSON Schema of the pipeline spec, with each module's config schema attached to its node type.

The committed copy (``spec/schema/pipeline-v1.schema.json``) is what the builder and external tools
read; a test fails when it no longer matches the models. It describes the built-in modules only, so it
does not depend on which module packs happen to be installed; ``logidata schema`` prints the schema of
the running installation, packs included.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_provider_logidata.spec.models import SPEC_VERSION, Pipeline

if TYPE_CHECKING:
    from airflow_provider_logidata.modules.registry import ModuleRegistry

SCHEMA_PATH = Path(__file__).parent / "schema" / f"pipeline-v{SPEC_VERSION}.schema.json"
SCHEMA_ID = f"https://logidata.dev/schemas/pipeline-v{SPEC_VERSION}.schema.json"
_REF = "#/$defs/{model}"


def pipeline_json_schema(registry: ModuleRegistry | None = None) -> dict[str, Any]:
    """The schema of ``registry``'s modules; by default every installed module, packs included."""
    if registry is None:
        from airflow_provider_logidata.modules.registry import registry as default_registry

        registry = default_registry()

    schema = Pipeline.model_json_schema(ref_template=_REF)
    defs: dict[str, Any] = schema.setdefault("$defs", {})
    rules = []
    for module in registry:
        config_schema = module.config_model.model_json_schema(ref_template=_REF)
        for name, sub in config_schema.pop("$defs", {}).items():
            if name in defs and defs[name] != sub:
                raise ValueError(f"two config models define a different {name!r}; rename one")
            defs[name] = sub
        config_schema["x-logidata-module"] = {
            "name": module.name,
            "category": module.category,
            "label": module.label,
            "description": module.description,
            "min_inputs": module.min_inputs,
            "max_inputs": module.max_inputs,
            "outputs": list(module.outputs),
            "input_ports": list(module.input_ports),
            "fusable": module.fusable,
            "icon": module.icon,
        }
        defs[module.config_model.__name__] = config_schema
        rules.append(
            {
                "if": {"properties": {"module": {"const": module.name}}, "required": ["module"]},
                "then": {"properties": {"config": {"$ref": _REF.format(model=module.config_model.__name__)}}},
            }
        )
    node = defs["Node"]
    node["properties"]["module"]["enum"] = registry.names()
    node["allOf"] = rules
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
    }


def schema_text(registry: ModuleRegistry | None = None) -> str:
    """The committed copy's text: by default of the built-in modules alone."""
    if registry is None:
        from airflow_provider_logidata.modules.registry import builtin_registry

        registry = builtin_registry()
    return json.dumps(pipeline_json_schema(registry), indent=2, sort_keys=False) + "\n"


def write_schema(path: Path = SCHEMA_PATH) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(schema_text(), encoding="utf-8")
    return path


if __name__ == "__main__":  # python -m airflow_provider_logidata.spec.schema regenerates the copy
    print(write_schema())
