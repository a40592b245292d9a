"""The error every policy refusal raises."""

from __future__ import annotations


class PolicyError(ValueError):
    """A pipeline field refused by the security policy.

    A ``ValueError`` so that, raised inside a pydantic validator, it becomes an ordinary validation error
    on the field; engine code wraps it in ``LogiDataTaskError`` naming the node. ``rule`` names the rule
    (``path-not-allowed``, ``template-name``, ``pg-function``, ...), ``setting`` the ``[logidata]`` option
    an Airflow admin may change to allow what was refused, when there is one.
    """

    def __init__(self, message: str, *, rule: str, setting: str | None = None) -> None:
        super().__init__(message)
        self.rule = rule
        self.setting = setting
