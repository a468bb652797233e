"""Creating tables beside another writer: a concurrent create is repeated, any other error raised."""

from __future__ import annotations

import pytest

from spark_jobs import bronze


def test_a_concurrent_create_is_retried_and_anything_else_raised():
    calls, waits = [], []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise RuntimeError("[DELTA_PROTOCOL_CHANGED] ProtocolChangedException: concurrent update")

    bronze.ensure_idempotently(flaky, "t", sleep=waits.append)
    assert len(calls) == 3 and waits == [0.5, 1.0]

    def broken():
        raise RuntimeError("[DELTA_MISSING_COLUMN] no such column")

    with pytest.raises(RuntimeError, match="MISSING_COLUMN"):
        bronze.ensure_idempotently(broken, "t", sleep=waits.append)
    calls.clear()
    with pytest.raises(RuntimeError, match="PROTOCOL_CHANGED"):
        bronze.ensure_idempotently(flaky, "t", attempts=2, sleep=waits.append)


def test_ddl_columns_carry_no_not_null_at_any_depth():
    from pyspark.sql import types as T

    inner = T.StructType([T.StructField("id", T.LongType(), False)])
    fields = [
        T.StructField("key", T.StringType(), False),
        T.StructField("image", inner, False),
        T.StructField("items", T.ArrayType(inner, False), False),
        T.StructField("extra", T.MapType(T.StringType(), inner, False), False),
    ]
    assert bronze.ddl_columns(fields) == (
        "`key` string, `image` struct<id:bigint>, `items` array<struct<id:bigint>>, "
        "`extra` map<string,struct<id:bigint>>"
    )
    assert bronze.properties_sql({"delta.a": "1", "delta.b": "x,y"}) == "'delta.a' = '1', 'delta.b' = 'x,y'"
