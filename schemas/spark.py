"""Spark schemas derived from the contracts, and Delta table properties: the one that keeps their
personal columns out of the transaction log, and how any is set."""

from __future__ import annotations

import re
from collections.abc import Iterable

from pyspark.sql import SparkSession
from pyspark.sql import types as T

from schemas.contracts import Contract

_SIMPLE = {
    "bigint": T.LongType(),
    "int": T.IntegerType(),
    "smallint": T.ShortType(),
    "boolean": T.BooleanType(),
    "double": T.DoubleType(),
    "date": T.DateType(),
    "timestamp": T.TimestampType(),
    "timestamptz": T.TimestampType(),
    "text": T.StringType(),
    "varchar": T.StringType(),
}


def spark_type(contract_type: str) -> T.DataType:
    m = re.match(r"decimal\((\d+),\s*(\d+)\)", contract_type)
    if m:
        return T.DecimalType(int(m.group(1)), int(m.group(2)))
    return _SIMPLE[contract_type.split("(")[0]]


def spark_schema(contract: Contract) -> T.StructType:
    return T.StructType([T.StructField(c.name, spark_type(c.type), c.nullable) for c in contract.columns])


# The types Delta keeps min/max statistics of (a boolean or binary column may not be named).
_STATS_TYPES = (T.NumericType, T.DateType, T.TimestampType, T.TimestampNTZType, T.StringType)


def stats_without(fields: Iterable[T.StructField], personal: Iterable[str]) -> dict[str, str]:
    """The table property that keeps Delta's file statistics (a column's min and max, in the
    transaction log) off the ``personal`` columns: a person's phone or name must not outlive the
    files that held it in ``_delta_log`` (spark_jobs/erasure.py)."""
    excluded = set(personal)
    kept = [f"`{f.name}`" for f in fields if f.name not in excluded and isinstance(f.dataType, _STATS_TYPES)]
    return {"delta.dataSkippingStatsColumns": ",".join(kept)}


def set_properties(spark: SparkSession, table: str, wanted: dict[str, str]) -> None:
    """Set the table properties that differ from ``wanted`` (one ALTER, none when all match)."""
    have = {r.key: r.value for r in spark.sql(f"show tblproperties {table}").collect()}
    changed = {k: v for k, v in wanted.items() if have.get(k) != v}
    if changed:
        spark.sql(f"alter table {table} set tblproperties ({properties_sql(changed)})")


def properties_sql(props: dict[str, str]) -> str:
    """Table properties for TBLPROPERTIES (...)."""
    return ", ".join(f"{k!r} = {v!r}" for k, v in props.items())
