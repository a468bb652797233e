import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from schemas.contracts import get_contract
from spark_jobs.cdc.envelope import PoisonMessage, parse_change
from tests.debezium_samples import CUSTOMER_ROW, PRODUCT_ROW, envelope

CUSTOMERS = get_contract("crm.customers")
PRODUCTS = get_contract("bss.products")
ROW = CUSTOMER_ROW


def test_insert_is_typed_by_the_contract():
    ch = parse_change(b'{"customer_id":7}', envelope("c", after=ROW), CUSTOMERS)
    assert ch.op == "c" and ch.before is None and not ch.snapshot
    assert ch.after["birth_date"] == date(1990, 5, 1)
    assert ch.after["created_at"] == datetime(2026, 11, 26, 1, 16, 34, 456616, tzinfo=UTC)
    assert (ch.tx_id, ch.lsn, ch.commit_lsn) == (807, 43127248, 43126000)
    assert ch.key == '{"customer_id":7}'


def test_delete_keeps_the_before_image_and_snapshot_reads_are_flagged():
    d = parse_change(b"k", envelope("d", before=ROW), CUSTOMERS)
    assert d.op == "d" and d.after is None and d.before["customer_id"] == 7
    r = parse_change(b"k", envelope("r", after=ROW, snapshot="true"), CUSTOMERS)
    assert r.snapshot


def test_tombstone_is_none():
    assert parse_change(b"k", None, CUSTOMERS) is None


def test_decimal_arrives_as_string_and_stays_exact():
    assert parse_change(b"k", envelope("c", after=PRODUCT_ROW, table="products"), PRODUCTS).after["price"] == Decimal(
        "29.90"
    )


def test_null_commit_lsn_of_the_first_transaction_is_kept_as_null():
    ch = parse_change(b"k", envelope("c", after=ROW, sequence='[null,"43127248"]'), CUSTOMERS)
    assert ch.commit_lsn is None and ch.lsn == 43127248


@pytest.mark.parametrize(
    "value, reason",
    [
        (b"not json", "value is not JSON"),
        (json.dumps({"op": "x"}).encode(), "not a Debezium change envelope"),
        (envelope("c", after=None), "without an after image"),
        (envelope("d", before=None), "delete without a before image"),
        (envelope("c", after={**ROW, "customer_id": "seven"}), "column 'customer_id'"),
        (envelope("c", after={k: v for k, v in ROW.items() if k != "full_name"}), "lacks required columns"),
        (envelope("c", after=ROW, ts_ms=None), "source block unreadable"),
    ],
)
def test_poison_messages_are_refused_with_the_reason(value, reason):
    with pytest.raises(PoisonMessage, match=reason):
        parse_change(b"k", value, CUSTOMERS)


def test_a_new_source_column_is_kept_as_an_extra_column():
    ch = parse_change(b"k", envelope("c", after={**ROW, "loyalty_tier": "gold", "points": 12}), CUSTOMERS)
    assert ch.extra_columns == {"loyalty_tier": '"gold"', "points": "12"}
    assert ch.after["city"] == "Beijing"
    assert parse_change(b"k", envelope("c", after=ROW), CUSTOMERS).extra_columns is None


def test_a_type_change_of_a_known_column_is_poison():
    with pytest.raises(PoisonMessage, match="column 'customer_id': cannot read|column 'customer_id'"):
        parse_change(b"k", envelope("u", after={**ROW, "customer_id": "7"}), CUSTOMERS)
