"""A value that parses but does not fit its contract type is dead-lettered with the reason
(column, value, type) and the rest of its poll lands: through the reader's real path
(``parse_poll``: column-wise first, record by record for a slice with anything unusual), and
through the per-record parser alone."""

from __future__ import annotations

import json
from collections import namedtuple
from datetime import UTC, datetime

import pytest
from kafka import TopicPartition

from schemas.contracts import get_contract, parse_contract
from schemas.values import misfit
from spark_jobs.cdc.changes import parsed_schema
from spark_jobs.cdc.envelope import PoisonMessage, parse_change
from spark_jobs.cdc.reader import parse_poll
from tests.debezium_samples import CUSTOMER_ROW, PRODUCT_ROW, envelope

Record = namedtuple("Record", "key value offset")
PRODUCTS = get_contract("bss.products")
CUSTOMERS = get_contract("crm.customers")
TICKETS = get_contract("crm.service_tickets")
# No captured table has a double or a timestamptz today; a contract of their own tests them.
MEASURES = parse_contract(
    {
        "name": "measures",
        "source": "crm",
        "primary_key": ["id"],
        "columns": [
            {"name": "id", "type": "bigint", "nullable": False},
            {"name": "ratio", "type": "double"},
            {"name": "seen_at", "type": "timestamptz"},
            {"name": "day", "type": "date"},
        ],
    }
)
MEASURE_ROW = {"id": 1, "ratio": 0.5, "seen_at": "2026-11-29T08:00:00Z", "day": 20000}

# (contract, the good row, column, wire value that parses but does not fit, the reason's words)
MISFITS = [
    (PRODUCTS, PRODUCT_ROW, "price", "123456789012.3456", "more than 2 decimal places"),
    (PRODUCTS, PRODUCT_ROW, "price", "123456789012.34", "more than 8 digits before the decimal point"),
    (PRODUCTS, PRODUCT_ROW, "price", "1.005", "more than 2 decimal places"),
    (PRODUCTS, PRODUCT_ROW, "price", "NaN", "not a finite number"),
    (PRODUCTS, PRODUCT_ROW, "product_id", 2**63, "outside the bigint range"),
    (TICKETS, None, "satisfaction_score", 40000, "outside the smallint range"),
    (PRODUCTS, PRODUCT_ROW, "business_type", "MOBILE", "longer than 3 characters"),
    (PRODUCTS, PRODUCT_ROW, "product_name", "\ud800broken", "not valid UTF-8"),
    (PRODUCTS, PRODUCT_ROW, "created_at", 300_000_000_000_000_000, "cannot read"),
    (CUSTOMERS, CUSTOMER_ROW, "birth_date", 3_000_000, "cannot read"),
    (MEASURES, MEASURE_ROW, "ratio", float("nan"), "not a finite number"),
    (MEASURES, MEASURE_ROW, "ratio", float("inf"), "not a finite number"),
]


def _ticket_row() -> dict:
    at = 1795655794456616
    return {
        "ticket_id": 9,
        "customer_id": 7,
        "phone": "13800000001",
        "category": "network",
        "channel": "app",
        "status": "open",
        "satisfaction_score": 4,
        "opened_at": at,
        "accepted_at": None,
        "network_checked_at": None,
        "answered_at": None,
        "resolved_at": None,
        "updated_at": at,
    }


def _wire(row: dict, contract) -> bytes:
    # json.dumps writes NaN/Infinity as the bare tokens Jackson writes for Java's doubles.
    return envelope("c", after=row, db=contract.source, table=contract.name)


def _poll(contract, rows: list[dict]) -> tuple:
    topic = f"{contract.source}.public.{contract.name}"
    tp = TopicPartition(topic, 0)
    records = [Record(json.dumps({"k": i}).encode(), _wire(r, contract), 100 + i) for i, r in enumerate(rows)]
    batch = parse_poll(1, {tp: records}, {topic: contract}, datetime.now(UTC))
    return batch, topic


@pytest.mark.parametrize(("contract", "good", "column", "value", "reason"), MISFITS)
def test_a_misfit_is_dead_lettered_with_its_reason_and_the_rest_of_the_poll_lands(
    contract, good, column, value, reason
):
    good = {k: v for k, v in (good or _ticket_row()).items() if k in contract.column_names}
    bad = {**good, column: value}
    batch, topic = _poll(contract, [good, bad, good])
    assert [d[2] for d in batch.dead] == [101], "exactly the bad record, by its offset"
    error = batch.dead[0][5]
    assert f"column {column!r}" in error and reason in error, error
    if "cannot read" not in reason:
        assert contract.column(column).type in error and "does not fit" in error, error
    landed = batch.changes[topic]
    assert sum(t.num_rows for t in landed) == 2
    assert [o for t in landed for o in t.column("kafka_offset").to_pylist()] == [100, 102]
    for t in landed:
        t.cast(parsed_schema(contract))  # the writer's Arrow schema takes them


@pytest.mark.parametrize(("contract", "good", "column", "value", "reason"), MISFITS)
def test_the_per_record_parser_refuses_the_same_misfits(contract, good, column, value, reason):
    good = {k: v for k, v in (good or _ticket_row()).items() if k in contract.column_names}
    with pytest.raises(PoisonMessage, match=reason.split(" (")[0]):
        parse_change(b'{"k":1}', _wire({**good, column: value}, contract), contract)


def test_invalid_utf8_bytes_inside_a_string_are_dead_lettered():
    topic = "bss.public.products"
    tp = TopicPartition(topic, 0)
    good = envelope("c", after=PRODUCT_ROW, db="bss", table="products")
    bad = good.replace(b'"5G 50GB"', b'"5G \xff50GB"')
    assert bad != good
    records = [Record(b'{"k":0}', good, 5), Record(b'{"k":1}', bad, 6)]
    batch = parse_poll(1, {tp: records}, {topic: PRODUCTS}, datetime.now(UTC))
    assert [(d[2], "not JSON" in d[5]) for d in batch.dead] == [(6, True)]
    assert batch.changes[topic][0].column("kafka_offset").to_pylist() == [5]


def test_values_at_the_limits_fit():
    assert misfit(2**63 - 1, "bigint") is None and misfit(-(2**63), "bigint") is None
    assert misfit(2**31, "int") and misfit(2**31 - 1, "int") is None
    from decimal import Decimal

    assert misfit(Decimal("99999999.99"), "decimal(10,2)") is None
    assert misfit(Decimal("1.5000"), "decimal(10,2)") is None  # trailing zeros lose nothing
    assert misfit(Decimal("100000000.00"), "decimal(10,2)")
    assert misfit("abc", "varchar(3)") is None and misfit("abcd", "varchar(3)")
    assert misfit(None, "int") is None
