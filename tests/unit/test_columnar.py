"""The column-wise parse must make exactly the rows the per-record parse makes, and hand every
unusual slice back to the per-record path (which dead-letters or keeps unknown columns)."""

import json

import pytest

from schemas.contracts import get_contract
from spark_jobs.cdc.changes import change_rows_arrow, parsed_schema
from spark_jobs.cdc.columnar import parse_slice
from spark_jobs.cdc.envelope import parse_change
from tests.debezium_samples import CUSTOMER_ROW, PRODUCT_ROW, envelope

CUSTOMERS = get_contract("crm.customers")
PRODUCTS = get_contract("bss.products")
TOPIC = "crm.public.customers"


def _per_record(contract, keys, values, topic, partition, offsets):
    rows = [(parse_change(k, v, contract), partition, o) for k, v, o in zip(keys, values, offsets)]
    return change_rows_arrow(contract, rows, topic)


def _both(contract, values, topic=TOPIC, partition=3):
    keys = [json.dumps({"id": i}).encode() for i in range(len(values))]
    offsets = list(range(100, 100 + len(values)))
    fast = parse_slice(contract, parsed_schema(contract), keys, values, topic, partition, offsets)
    return fast, _per_record(contract, keys, values, topic, partition, offsets)


def test_customer_changes_match_the_per_record_parse():
    values = [
        envelope("r", after=CUSTOMER_ROW, snapshot="true", sequence='[null,"43127248"]'),
        envelope("r", after=CUSTOMER_ROW, snapshot="last"),
        envelope("c", after={**CUSTOMER_ROW, "city": None, "birth_date": None}),
        envelope("u", before=CUSTOMER_ROW, after={**CUSTOMER_ROW, "full_name": "Li Wei 李伟"}, txId=808),
        envelope("d", before=CUSTOMER_ROW, lsn=None),
        envelope("c", after=CUSTOMER_ROW, snapshot=None, sequence=None),
    ]
    fast, slow = _both(CUSTOMERS, values)
    assert fast is not None
    assert fast.schema == slow.schema
    assert fast.to_pylist() == slow.to_pylist()
    fast.cast(parsed_schema(CUSTOMERS))  # what Spark's Arrow intake does: no null in a non-nullable child
    assert fast.column("is_snapshot").to_pylist() == [True, True, False, False, False, False]


def test_decimals_and_booleans_match_the_per_record_parse():
    values = [
        envelope("c", after=PRODUCT_ROW, table="products"),
        envelope("u", after={**PRODUCT_ROW, "price": "0.10", "is_active": False}, table="products"),
    ]
    fast, slow = _both(PRODUCTS, values, topic="bss.public.products")
    assert fast is not None and fast.to_pylist() == slow.to_pylist()


@pytest.mark.parametrize(
    "odd",
    [
        b"not json",
        json.dumps({"op": "x"}).encode(),
        envelope("c", after=None),
        envelope("d", before=None),
        envelope("c", after={**CUSTOMER_ROW, "customer_id": "seven"}),
        envelope("c", after={k: v for k, v in CUSTOMER_ROW.items() if k != "full_name"}),
        envelope("c", after=CUSTOMER_ROW, ts_ms=None),
        envelope("c", after={**CUSTOMER_ROW, "loyalty_tier": "gold"}),  # a column the contract lacks
        envelope("c", after=CUSTOMER_ROW, sequence="43126000"),
        b'{"op":"c",\n"after":null}',
        b"",
    ],
)
def test_any_unusual_record_sends_the_slice_to_the_per_record_path(odd):
    good = envelope("c", after=CUSTOMER_ROW)
    assert parse_slice(CUSTOMERS, parsed_schema(CUSTOMERS), [b"k"] * 3, [good, odd, good], TOPIC, 0, [1, 2, 3]) is None


def test_a_record_without_a_key_or_with_a_non_utf8_key_takes_the_per_record_path():
    good = envelope("c", after=CUSTOMER_ROW)
    schema = parsed_schema(CUSTOMERS)
    assert parse_slice(CUSTOMERS, schema, [b"k", None], [good, good], TOPIC, 0, [1, 2]) is None
    assert parse_slice(CUSTOMERS, schema, [b"k", b"\xff"], [good, good], TOPIC, 0, [1, 2]) is None
    assert parse_slice(CUSTOMERS, schema, [b"k", b"k"], [good, good], TOPIC, 0, [1, 2]).num_rows == 2
