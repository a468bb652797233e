"""Retention gaps and recovery against real PostgreSQL, Debezium and Kafka: records deleted past
bronze's position stop their topic loudly (the others go on); the recovery command re-snapshots
the table through Debezium's signal table and the current state reconciles exactly, a row
corrupted beforehand included. Two consumers started at once land each change once. Those two
are of the fault-injection tier (``make test-faults``); a source truncate is in ``make test``.

The test deletes records from a real topic (as retention would), so a bronze built later from
scratch meets that gap too: it runs after the other CDC tests (file order) and they count only
the records Kafka still keeps.
"""

from __future__ import annotations

import re
import subprocess
import sys

import psycopg2
import pytest
from kafka import KafkaAdminClient, TopicPartition

from core import kafka_access, pg_roles
from core.settings import REPO_DIR
from core.sql import thrift_query
from lakehouse.reconcile import reconcile_all
from schemas.contracts import get_contract
from spark_jobs.cdc import changes, positions
from spark_jobs.cdc.changes import cdc_contracts
from spark_jobs.cdc.fence import wait_for_sources
from tests.integration.cdc_helpers import end_offset, job_env, run_job, sql

pytestmark = pytest.mark.integration
TOPIC = "crm.public.customers"


def assert_reconciled() -> None:
    diffs = reconcile_all()
    assert all(d.exact for d in diffs), "\n".join(d.summary() for d in diffs)


def consume() -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "spark_jobs.cdc.consumer"],
        capture_output=True,
        text=True,
        timeout=900,
        env=job_env(),
        cwd=REPO_DIR,
    )


@pytest.mark.faults
def test_two_consumers_started_at_once_land_each_change_once(tmp_path):
    ids = [r[0] for r in sql("bss", "select order_id from orders order by order_id limit 300")]
    sql("bss", "update orders set amount = amount where order_id = any(%s)", (ids,))
    wait_for_sources()
    logs = [tmp_path / f"consumer-{i}.log" for i in range(2)]
    procs = []
    for log in logs:
        with log.open("w") as out:
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "spark_jobs.cdc.consumer"],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=job_env(),
                    cwd=REPO_DIR,
                )
            )
    for proc, log in zip(procs, logs):
        code = proc.wait(timeout=900)
        text = log.read_text()
        causes = "\n".join(line for line in text.splitlines() if "Exception" in line or "Error" in line)
        # Each either landed (0) or found the offsets landed by the other and stopped (4).
        assert code in (0, 4), f"exit {code}:\n{causes[-4000:]}"
    for contract in cdc_contracts():
        rows, distinct = thrift_query(
            "select count(*), count(distinct kafka_topic, kafka_partition, kafka_offset) "
            f"from {changes.change_table_for(contract)}"
        )[0]
        assert rows == distinct, f"{contract.qualified_name}: {rows - distinct} changes landed twice"
    run_job("spark_jobs.cdc.consumer", "--apply")
    assert_reconciled()


@pytest.mark.faults
def test_a_retention_gap_stops_its_topic_and_the_recovery_reconciles_exactly():
    wait_for_sources()
    run_job("spark_jobs.cdc.consumer", "--apply")
    ids = [r[0] for r in sql("crm", "select customer_id from customers order by customer_id limit 4")]
    # A current-state row gone wrong (by any accident): the re-snapshot must correct it.
    thrift_query(f"update bronze.crm_customers_merged set city = 'CORRUPTED' where customer_id = {ids[0]}")
    # Changes whose records will be lost: updates, a delete, an insert; and one on another topic.
    sql("crm", "update customers set city = 'lost-update' where customer_id = any(%s)", (ids[1:3],))
    sql("crm", "delete from customers where customer_id = %s", (ids[3],))
    new_id = sql("crm", "select max(customer_id) + 1 from customers")[0][0]
    sql(
        "crm",
        "insert into customers select %s, phone, full_name, gender, birth_date, 'lost-insert', "
        "acquisition_channel, created_at, updated_at from customers where customer_id = %s",
        (new_id, ids[1]),
    )
    sql(
        "bss",
        "update products set product_name = product_name where product_id = (select min(product_id) from products)",
    )
    wait_for_sources()
    landed = thrift_query(
        f"select max(kafka_offset) + 1 from {changes.change_table_for(get_contract('crm.customers'))}"
    )
    position = landed[0][0]
    end = end_offset(TOPIC)
    assert end > position
    admin = KafkaAdminClient(**kafka_access.login("admin"))
    try:
        admin.delete_records({TopicPartition(TOPIC, 0): end})  # retention expired while we were down
    finally:
        admin.close()

    r = consume()
    assert r.returncode == 3, f"exit {r.returncode}:\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}"
    assert f"STOPPED {TOPIC} partition 0" in r.stdout
    assert f"recovered offset {position}, earliest kept {end}" in r.stdout
    assert f"python -m spark_jobs.cdc.recover {TOPIC}" in r.stdout
    gap = thrift_query(
        f"select recovered_offset, earliest_offset, status from {positions.GAPS_TABLE} "
        f"where kafka_topic = '{TOPIC}' order by at desc limit 1"
    )
    assert [tuple(g) for g in gap] == [(position, end, "open")]
    # The other topics went on: the products change landed.
    assert "bss_products_changes=" in r.stdout

    out = run_job("spark_jobs.cdc.recover", TOPIC, timeout=1200)
    assert f"partition 0 resumes at {end} (was {position})" in out, out
    # The delete above at least (one lost by an earlier interrupted run would be found too).
    swept = re.search(r"(\d+) rows deleted at the source", out)
    assert swept and int(swept.group(1)) >= 1, out
    assert_reconciled()
    # Capture goes on from there, with no gap.
    sql("crm", "update customers set city = 'after' where customer_id = %s", (ids[1],))
    wait_for_sources()
    run_job("spark_jobs.cdc.consumer", "--apply")
    assert_reconciled()


def test_a_source_truncate_empties_the_current_state_and_the_log_keeps_it():
    products = get_contract("bss.products")
    rows = sql("bss", f"select {', '.join(products.column_names)} from products")
    assert rows, "the generator loads products"
    insert = (
        f"insert into products ({', '.join(products.column_names)}) "
        f"values ({', '.join(['%s'] * len(products.column_names))}) on conflict do nothing"
    )
    try:
        sql("bss", "truncate products")
        wait_for_sources()
        run_job("spark_jobs.cdc.consumer", "--apply")
        live = thrift_query("select count(*) from bronze.bss_products where not _is_deleted")[0][0]
        assert live == 0, f"{live} products still live after the source TRUNCATE"
        truncates = thrift_query(f"select count(*) from {changes.change_table_for(products)} where op = 't'")[0][0]
        assert truncates >= 1, "the change log has no truncate event"
    finally:
        with psycopg2.connect(pg_roles.source_dsn("bss", "generator")) as conn, conn.cursor() as cur:
            cur.executemany(insert, rows)
    wait_for_sources()
    run_job("spark_jobs.cdc.consumer", "--apply")
    assert_reconciled()  # the products are back, newer than the truncate
