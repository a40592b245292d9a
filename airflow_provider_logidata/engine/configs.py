"""Config validation shared by the function layer and chains: errors name the node."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_logidata.engine.errors import LogiDataTaskError, node_label
from airflow_provider_logidata.modules.base import ModuleConfig
from airflow_provider_logidata.modules.registry import registry

ConfigLike = ModuleConfig | Mapping[str, Any]


def validate_config(module: str, config: ConfigLike, node_id: str) -> ModuleConfig:
    """Validate ``config`` (model instance or dict) with the module's model from the registry."""
    definition = registry().get(module)
    if definition is None:
        raise LogiDataTaskError(
            f"{node_label(module, node_id)}: unknown module; known modules: {', '.join(registry().names())}"
        )
    model = definition.config_model
    if isinstance(config, model):
        return config
    data = config.model_dump() if isinstance(config, ModuleConfig) else dict(config)
    try:
        return model.model_validate(data)
    except ValueError as error:  # pydantic.ValidationError is a ValueError
        raise LogiDataTaskError(f"{node_label(module, node_id)}: invalid config: {error}") from None


def module_for_config(config: ConfigLike, module: str | None) -> str:
    """The module name: given explicitly, or found from the config model's class in the registry."""
    if module is not None:
        return module
    if isinstance(config, ModuleConfig):
        for definition in registry():
            if definition.config_model is type(config):
                return definition.name
    raise ValueError("pass module=... when the config is a plain dict or its model is not registered")
