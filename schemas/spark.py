"""Spark schemas derived from the contracts."""

from __future__ import annotations

import re

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
