"""Erasure on request, end to end: a person of gold (with orders, an account and app events) is
deleted at the sources by their owners, the deletes land in bronze, and ``python -m
lakehouse.erase`` removes the rest. Afterwards no file under the warehouse holds their number
(every Parquet value read, every other file's bytes), every other row of gold is as it was, the
consumer's Kafka positions did not move back, and the request is in ``audit.erasure_requests``.

Reads the gold that the end-to-end build (test_build_end_to_end.py, or ``make run``) made."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from core import pii
from core.airflow_client import AirflowClient
from core.settings import get_settings
from core.sql import thrift_query
from lakehouse.erase import writers_paused
from spark_jobs.cdc.fence import wait_for_sources
from spark_jobs.erasure import AUDIT_DB, REQUESTS_TABLE
from spark_jobs.maintenance import layer_dbs
from tests.integration.cdc_helpers import run_job, sql

pytestmark = pytest.mark.integration
PHONE_MATCH = "right(regexp_replace({c}, '[^0-9]', '', 'g'), 11) = %s"


def _person() -> tuple[str, str, int, int]:
    """(token, phone as the CRM typed it, customer id, account id) of a user with the most data."""
    rows = thrift_query(
        "select u.user_key, pii.decrypt(s.phone_encrypted), u.customer_id, u.subscriber_id "
        "from gold.dim_user u join silver.int_users s using (user_key) "
        "join (select user_key, count(*) as days from gold.fct_app_activity_daily group by 1) a using (user_key) "
        "where u.customer_id is not null and u.subscriber_id is not null and u.orders > 0 "
        "order by u.orders + a.days desc, u.user_key limit 1"
    )
    if not rows:
        pytest.fail(
            "gold has no user with orders and app activity: build first (make run, or test_build_end_to_end.py)"
        )
    return rows[0]


def _gold_tables() -> list[str]:
    return [
        f"gold.{r[1]}"
        for r in thrift_query("show tables in gold")
        if not thrift_query(f"show views in gold like '{r[1]}'")
    ]


def _gold_rows() -> dict[str, tuple[list[str], Counter]]:
    """Every gold table's column names and rows."""
    out = {}
    for t in _gold_tables():
        columns = [r[0] for r in thrift_query(f"describe {t}") if r[0] and not r[0].startswith("#")]
        out[t] = (columns, Counter(tuple(r) for r in thrift_query(f"select * from {t}")))
    return out


def _strings(value) -> str:
    return re.sub(r"[ -]", "", value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value))


def _flat(table: pa.Table) -> pa.Table:
    while any(pa.types.is_struct(f.type) for f in table.schema):
        table = table.flatten()
    return table


def warehouse_holding(digits: str, typed: str) -> set[str]:
    """The stack's warehouse files that hold the number: a Parquet file by any value (decompressed,
    structs flattened), any other file by its bytes (the number, or as the CRM typed it)."""
    found = set()
    root = Path(get_settings().warehouse_dir)
    needles = {digits.encode(), typed.encode()}
    # the stack's databases (the tests' own, kat_* and t_*, are copies of their own)
    layers = [root / f"{db}.db" for db in (*layer_dbs().values(), AUDIT_DB)]
    for path in (p for layer in layers for p in layer.rglob("*")):
        if not path.is_file():
            continue
        if path.suffix == ".parquet":
            table = _flat(pq.read_table(path))
            if any(digits in _strings(v) for col in table.columns for v in col.to_pylist() if v is not None):
                found.add(str(path.relative_to(root)))
        elif any(n in path.read_bytes() for n in needles):
            found.add(str(path.relative_to(root)))
    return found


def _offsets() -> dict:
    tables = [f"bronze.{r[1]}" for r in thrift_query("show tables in bronze like '*_changes'")]
    return {
        (t, topic, part): last
        for t in tables
        for topic, part, last in thrift_query(
            f"select kafka_topic, kafka_partition, max(kafka_offset) from {t} group by 1, 2"
        )
    }


@pytest.fixture(scope="module")
def erased():
    token, typed, customer_id, subscriber_id = _person()
    number = pii.e164(typed)
    digits = number[-11:]
    client = AirflowClient.from_settings()
    with writers_paused(client, progress=lambda _: None):
        before = _gold_rows()
        # the sources' owners erase first
        sql(
            "crm",
            f"delete from service_tickets where customer_id = %s or {PHONE_MATCH.format(c='phone')}",
            (customer_id, digits),
        )
        sql("crm", "delete from customers where customer_id = %s", (customer_id,))
        for table in ("orders", "monthly_usage"):
            sql("bss", f"delete from {table} where {PHONE_MATCH.format(c='phone')}", (digits,))
        sql("bss", "delete from subscribers where subscriber_id = %s", (subscriber_id,))
        wait_for_sources()
        run_job("spark_jobs.cdc.consumer", "--apply")
        held_before = warehouse_holding(digits, typed)
        offsets_before = _offsets()
        out = run_job("lakehouse.erase", "--phone", typed, "--requested-by", "test-erasure", "--reason", "test")
        after = _gold_rows()
        held_after = warehouse_holding(digits, typed)
        offsets_after = _offsets()
    return {
        "token": token,
        "ids": (customer_id, subscriber_id),
        "digits": digits,
        "out": out,
        "gold": (before, after),
        "held": (held_before, held_after),
        "offsets": (offsets_before, offsets_after),
    }


def test_no_file_under_the_warehouse_holds_the_number_afterwards(erased):
    held_before, held_after = erased["held"]
    assert any("app_events" in p for p in held_before), "the check must see the number before"
    assert any("_changes" in p for p in held_before)
    print(f"files holding the number: {len(held_before)} before, {len(held_after)} after")
    assert held_after == set()


def test_every_other_row_of_gold_is_unchanged_and_theirs_are_gone(erased):
    before, after = erased["gold"]
    token = erased["token"]
    customer_id, subscriber_id = erased["ids"]

    def theirs(columns: list[str], row: tuple) -> bool:
        named = dict(zip(columns, row))
        return token in row or named.get("customer_id") == customer_id or named.get("subscriber_id") == subscriber_id

    assert set(after) == set(before)
    removed = 0
    for table, (columns, rows) in before.items():
        others = Counter({r: n for r, n in rows.items() if not theirs(columns, r)})
        assert after[table][1] == others, table
        removed += sum(rows.values()) - sum(others.values())
    assert removed > 0
    ids = thrift_query(
        f"select count(*) from gold.dim_user where customer_id = {customer_id} or subscriber_id = {subscriber_id}"
    )
    assert ids == [(0,)]


def test_the_consumer_positions_never_move_back(erased):
    before, after = erased["offsets"]
    assert after == before


def test_the_request_is_audited_without_the_number(erased):
    rows = thrift_query(
        f"select request_id, status, requested_by, size(rows_erased), retention_override, "
        f"cast(rows_erased as string), cast(not_reached as string) from {REQUESTS_TABLE} "
        f"where user_token = '{erased['token']}'"
    )
    assert len(rows) == 1
    request_id, status, by, tables, override, detail, not_reached = rows[0]
    assert (status, by) == ("erased", "test-erasure") and tables >= 5
    assert "RETAIN 0 HOURS" in override and "retentionDurationCheck" in override
    assert "Kafka" in not_reached and "source crm" not in not_reached  # the sources erased first
    assert request_id in erased["out"] and erased["digits"] not in erased["out"] + detail
