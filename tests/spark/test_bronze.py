"""Bronze change-log writes: contract-typed rows, offsets recovered, dead letters once."""

from __future__ import annotations

import json

import pytest
from pyspark.sql import types as T

from schemas.contracts import get_contract
from spark_jobs.cdc import bronze
from spark_jobs.cdc.envelope import parse_change

pytestmark = pytest.mark.spark
CUSTOMERS = get_contract("crm.customers")
TOPIC = "crm.public.customers"


def _event(op, cid, city, lsn):
    image = {"customer_id": cid, "phone": "13800000000", "full_name": "x", "gender": "F", "birth_date": 0,
             "acquisition_channel": "app",
             "city": city, "created_at": 0, "updated_at": 0}
    body = {"op": op, "before": image if op == "d" else None, "after": None if op == "d" else image,
            "source": {"ts_ms": 1, "txId": 5, "lsn": lsn, "sequence": f'[null,"{lsn}"]'}}
    return parse_change(json.dumps({"customer_id": cid}).encode(), json.dumps(body).encode(), CUSTOMERS)


@pytest.fixture
def tables(spark):
    spark.sql("drop database if exists bronze cascade")
    bronze.ensure_tables(spark, [CUSTOMERS])
    return bronze.change_table_for(CUSTOMERS)


def test_change_log_images_carry_the_contract_schema(spark, tables):
    after = spark.table(tables).schema["after"].dataType
    assert isinstance(after, T.StructType)
    assert [f.name for f in after.fields] == CUSTOMERS.column_names
    assert after["birth_date"].dataType == T.DateType()


def test_offsets_are_recovered_from_the_rows_they_committed_with(spark, tables):
    assert bronze.committed_offsets(spark, [tables]) == {}
    records = [(_event("c", 1, "A", 100), 0, 10), (_event("u", 1, "B", 200), 0, 11), (_event("d", 1, "B", 300), 0, 12)]
    bronze.append(bronze.change_rows_frame(spark, CUSTOMERS, records, TOPIC, bronze.now_utc()), tables)
    assert bronze.committed_offsets(spark, [tables]) == {(TOPIC, 0): 13}
    rows = spark.table(tables).orderBy("kafka_offset").collect()
    assert [(r.op, r.after.city if r.after else None, r.before.city if r.before else None) for r in rows] == [
        ("c", "A", None), ("u", "B", None), ("d", None, "B")]


def test_dead_letters_are_recorded_once_when_a_batch_is_reread(spark, tables):
    row = (TOPIC, 0, 42, b"k", b"\xff not json", "value is not JSON", bronze.now_utc())
    bronze.merge_dead_letters(spark, [row])
    bronze.merge_dead_letters(spark, [row])
    dead = spark.table(bronze.DEAD_LETTER_TABLE).collect()
    assert len(dead) == 1
    assert dead[0].raw_value == bytearray(b"\xff not json") and dead[0].kafka_offset == 42
