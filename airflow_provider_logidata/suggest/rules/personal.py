"""Personal data (e-mail addresses, phone numbers, IBANs) → hash or mask with ``derive_column`` (GDPR).

Hashing keeps values joinable and countable without revealing them; masking keeps a readable hint
(the e-mail domain, the last digits). ``sha256`` exists in DuckDB; PostgreSQL has ``sha256(bytea)`` only
and sqlglot's translation passes text, so an ELT pipeline gets ``md5`` (text in both, same hex output).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from airflow_provider_logidata.engine.sql import quote_literal
from airflow_provider_logidata.suggest.model import ProposedNode, Suggestion, suggestion_id
from airflow_provider_logidata.suggest.registry import register_rule
from airflow_provider_logidata.suggest.rules._common import clamp, count, pct, quote_ident
from airflow_provider_logidata.suggest.sample import SAMPLE

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from airflow_provider_logidata.suggest.sample import SampleContext

MIN_SHARE = 0.5


def iban_valid(text: str) -> bool:
    """ISO 13616 check digits (mod 97 = 1)."""
    compact = text.replace(" ", "").upper()
    if not re.fullmatch(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}", compact):
        return False
    moved = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in moved)) % 97 == 1


@dataclass(frozen=True)
class Kind:
    name: str
    label: str
    pattern: str  # RE2, whole value
    mask: Callable[[str], str]
    check: Callable[[str], bool] | None = None


def _mask_email(c: str) -> str:
    return f"'***' || substr({c}, strpos({c}, '@'))"


def _mask_phone(c: str) -> str:
    return f"regexp_replace(left({c}, length({c}) - 2), '[0-9]', 'x', 'g') || right({c}, 2)"


def _mask_iban(c: str) -> str:
    return f"left({c}, 4) || repeat('*', greatest(length({c}) - 8, 0)) || right({c}, 4)"


KINDS = (
    Kind("email", "e-mail addresses", r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}", _mask_email),
    Kind("iban", "IBANs", r"[A-Z]{2}[0-9]{2}( ?[A-Z0-9]){11,30}", _mask_iban, iban_valid),
    Kind("phone", "phone numbers", r"(\+|00|0|\()[0-9 ()./-]{7,20}[0-9]", _mask_phone),
)


def _hash(c: str, engine: str) -> str:
    return f"md5({c})" if engine == "elt" else f"sha256({c})"


@register_rule("personal_data", "E-mail addresses, phone numbers and IBANs in clear text")
def personal_data(sample: SampleContext) -> Iterator[Suggestion]:
    for name in sample.text_columns():
        non_null = sample.non_null(name)
        if not non_null:
            continue
        column = quote_ident(name)
        hits = sample.query(
            "SELECT "
            + ", ".join(
                f"count(*) FILTER (WHERE regexp_full_match(trim({column}), {quote_literal(k.pattern)}))"
                for k in KINDS
            )
            + f" FROM {SAMPLE}"
        )[0]
        best = max(range(len(KINDS)), key=lambda i: hits[i])
        kind, found = KINDS[best], int(hits[best])
        if found < MIN_SHARE * non_null:
            continue
        if kind.name == "phone":
            digits = sample.value(
                f"SELECT median(length(regexp_replace({column}, '[^0-9]', '', 'g'))) FROM {SAMPLE} "
                f"WHERE regexp_full_match(trim({column}), {quote_literal(kind.pattern)})"
            )
            if not digits or digits < 8 or digits > 15:
                continue
        if kind.check is not None:
            examples = [
                r[0]
                for r in sample.query(
                    f"SELECT DISTINCT trim({column}) FROM {SAMPLE} WHERE regexp_full_match(trim({column}), "
                    f"{quote_literal(kind.pattern)}) LIMIT 200"
                )
            ]
            valid = sum(1 for e in examples if kind.check(e))
            if valid < 0.8 * len(examples):
                continue
        share = found / non_null
        evidence = (
            f"{count(found)} of {count(non_null)} values of {name} ({pct(found, non_null)}) are {kind.label}"
        )
        why = "personal data in clear text; GDPR asks to minimise it"
        yield Suggestion(
            id=suggestion_id("personal_data_hash", [name]),
            rule="personal_data",
            title=f"Pseudonymise {name} (hash the {kind.label})",
            evidence=evidence,
            confidence=clamp(0.5 + 0.45 * share),
            confidence_reason=f"{why}; a hash keeps the column usable as a join key",
            severity="high",
            columns=[name],
            nodes=[
                ProposedNode(
                    module="derive_column",
                    config={"columns": [{"name": name, "expression": _hash(column, sample.pipeline.engine)}]},
                    label=f"Hash {name}",
                )
            ],
            share=share,
        )
        yield Suggestion(
            id=suggestion_id("personal_data_mask", [name]),
            rule="personal_data",
            title=f"Mask {name} (keep only a hint of the {kind.label})",
            evidence=evidence,
            confidence=clamp(0.4 + 0.45 * share),
            confidence_reason=f"{why}; masking keeps a readable hint but the column can no longer be joined",
            severity="high",
            columns=[name],
            nodes=[
                ProposedNode(
                    module="derive_column",
                    config={"columns": [{"name": name, "expression": kind.mask(column)}]},
                    label=f"Mask {name}",
                )
            ],
            share=share,
        )
