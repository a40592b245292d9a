"""The rule registry: each rule is a function ``detect(sample) -> findings`` registered under its name.

A rule only finds and proposes; the engine validates the proposed nodes, runs them over the sample for
the effect and ranks. Adding a rule is one decorated function in a module of ``suggest.rules``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow_provider_logidata.suggest.model import Suggestion
    from airflow_provider_logidata.suggest.sample import SampleContext

Detector = Callable[["SampleContext"], Iterable["Suggestion"]]


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    detect: Detector


RULES: dict[str, Rule] = {}


def register_rule(name: str, description: str) -> Callable[[Detector], Detector]:
    def decorate(detect: Detector) -> Detector:
        if name in RULES and RULES[name].detect is not detect:
            raise ValueError(f"suggestion rule {name!r} is registered twice")
        RULES[name] = Rule(name=name, description=description, detect=detect)
        return detect

    return decorate


def rules() -> dict[str, Rule]:
    """Every rule, with the built-in rule modules imported (they register on import)."""
    from airflow_provider_logidata.suggest import rules as _builtin  # noqa: F401

    return RULES
