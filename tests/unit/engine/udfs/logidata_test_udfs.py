"""User code for the python module's tests: deployed with the DAGs in real life, put on sys.path here."""

from __future__ import annotations

from typing import Any

import pandas as pd

NOT_CALLABLE = 3


def add_total(df: pd.DataFrame) -> pd.DataFrame:
    df["total"] = df["price"] * df["qty"]
    return df


def scale(df: pd.DataFrame, factor: int = 1, suffix: str = "") -> pd.DataFrame:
    return pd.DataFrame({f"scaled{suffix}": df["price"] * factor})


def count_rows(df: pd.DataFrame) -> pd.DataFrame:
    """One row per call: shows how the input was split into calls."""
    return pd.DataFrame({"rows": [len(df)], "first_id": [int(df["id"].iloc[0]) if len(df) else -1]})


def not_a_frame(df: pd.DataFrame) -> Any:
    return {"rows": len(df)}


def explode(df: pd.DataFrame) -> pd.DataFrame:
    raise ValueError("negative price in row 2")


def changing_types(df: pd.DataFrame) -> pd.DataFrame:
    """The first batch gives integers, the next ones text: cannot go into one file."""
    first = int(df["id"].iloc[0]) == 1
    return pd.DataFrame({"value": df["id"] if first else df["id"].map(lambda v: f"id-{v}")})


def changing_columns(df: pd.DataFrame) -> pd.DataFrame:
    name = "a" if int(df["id"].iloc[0]) == 1 else "b"
    return pd.DataFrame({name: df["id"]})


class Tools:
    @staticmethod
    def upper_names(df: pd.DataFrame) -> pd.DataFrame:
        df["name"] = df["name"].str.upper()
        return df
