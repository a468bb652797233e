"""CDC into bronze against real PostgreSQL, Debezium and Kafka: every change lands exactly once,
in order, with deletes; crashes, a Connect restart, poison messages and schema drift included.

The jobs run as separate processes, as Airflow runs them; the check is a reconciliation of every
source table with its current-state table, key by key and row hash by row hash.
"""

from __future__ import annotations

import json
import random
import signal
import threading
import time
import uuid

import psycopg2
import pytest
from kafka import KafkaProducer

from core import kafka_access, pg_roles
from core.settings import REPO_DIR
from core.sql import thrift_query
from lakehouse.reconcile import reconcile_all
from schemas.contracts import get_contract
from simulator.generator.cli import generate
from simulator.generator.config import GeneratorConfig
from simulator.workload import Workload
from spark_jobs.cdc import changes
from spark_jobs.cdc.changes import cdc_contracts
from spark_jobs.cdc.fence import wait_for_sources
from tests.integration.cdc_helpers import earliest, landed_counts, run_job, sql, start_job, topic_messages

pytestmark = pytest.mark.integration
CFG = GeneratorConfig(scale=0.002, seed=99, days=3)


def catch_up(as_the_dag_does: bool = False) -> None:
    """Everything committed in the sources is in Kafka, then in bronze, then in current state:
    the two jobs in one process, or as the DAG's tasks run them (the apply in a second process,
    through the Thrift server's Spark Connect)."""
    wait_for_sources()
    if not as_the_dag_does:
        run_job("spark_jobs.cdc.consumer", "--apply")
        return
    run_job("spark_jobs.cdc.consumer")
    out = run_job("spark_jobs.cdc.current_state")
    assert "through Spark Connect on the Thrift server" in out, out


def assert_reconciled() -> None:
    diffs = reconcile_all()
    assert all(d.exact for d in diffs), "\n".join(d.summary() for d in diffs)


def assert_each_change_landed_once() -> None:
    for contract in cdc_contracts():
        topic = changes.topic_for(contract)
        records, tombstones = topic_messages(topic)
        kept = earliest(topic)  # test_cdc_recovery deletes records, as retention would
        rows, distinct = landed_counts(changes.change_table_for(contract), topic, kept)
        dead = thrift_query(
            f"select count(*) from {changes.dead_letter_table()} "
            f"where kafka_topic = '{topic}' and kafka_offset >= {kept}"
        )[0][0]
        assert rows == distinct, f"{topic}: {rows - distinct} changes landed twice"
        assert rows + dead == records - tombstones, f"{topic}: {records - tombstones - rows - dead} changes lost"


@pytest.fixture(scope="module", autouse=True)
def sources():
    generate(CFG, None, load_db=True, show_progress=False)


class BackgroundWorkload:
    """The OLTP workload in a thread, for the length of a ``with`` block."""

    def __init__(self, rate: float, seed: int):
        self.rate = rate
        self.workload = Workload(seed=seed)
        self.stop = threading.Event()
        self.changes = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self.stop.is_set():
            self.changes += self.workload.run(rate=self.rate, duration_s=1.0).changes

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(timeout=30)
        self.workload.close()


def test_interleaved_transactions_inserts_updates_deletes_reconcile_exactly():
    ids = [r[0] for r in sql("crm", "select customer_id from customers order by customer_id limit 3")]
    k1, k2, k3 = ids
    dsn = pg_roles.source_dsn("crm", "generator")
    c1, c2 = psycopg2.connect(dsn), psycopg2.connect(dsn)
    try:
        with c1.cursor() as a, c2.cursor() as b:
            a.execute("update customers set city = 'T1-first' where customer_id = %s", (k1,))
            b.execute("update customers set city = 'T2' where customer_id = %s", (k2,))
            b.execute(
                "insert into customers select customer_id + 900000, phone, full_name, gender, birth_date, "
                "'T2-new', acquisition_channel, created_at, updated_at from customers where customer_id = %s",
                (k3,),
            )
            c2.commit()  # T2 commits first although T1 started first
            a.execute("update customers set city = 'T1-after-T2' where customer_id = %s", (k2,))
            a.execute("delete from customers where customer_id = %s", (k3,))
            c1.commit()
        sql("crm", "update customers set city = 'last' where customer_id = %s", (k1,))
    finally:
        c1.close()
        c2.close()
    catch_up(as_the_dag_does=True)
    assert_reconciled()
    cities = dict(
        thrift_query(
            f"select customer_id, city from bronze.crm_customers where not _is_deleted "
            f"and customer_id in ({k1}, {k2}, {k3}, {k3 + 900000})"
        )
    )
    assert cities == {k1: "last", k2: "T1-after-T2", k3 + 900000: "T2-new"}


@pytest.mark.faults
def test_consumer_killed_at_random_points_loses_and_duplicates_nothing():
    rng = random.Random(7)
    kills = 0
    with BackgroundWorkload(rate=250, seed=11) as load:
        for _ in range(4):
            proc = start_job("spark_jobs.cdc.consumer", "--interval", "0.5")
            time.sleep(rng.uniform(12, 35))  # JVM start, offset recovery, or mid-batch
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
            proc.wait(timeout=30)
    assert kills >= 3 and load.changes > 1000
    catch_up()
    assert_reconciled()
    assert_each_change_landed_once()


@pytest.mark.faults
def test_connect_restarted_mid_stream_still_reconciles():
    import subprocess

    with BackgroundWorkload(rate=250, seed=12) as load:
        time.sleep(4)
        r = subprocess.run(
            [str(REPO_DIR / "infra" / "stack.sh"), "restart", "connect"], capture_output=True, text=True, timeout=300
        )
        assert r.returncode == 0, r.stderr
        time.sleep(4)
    assert load.changes > 1000
    catch_up()
    assert_reconciled()
    assert_each_change_landed_once()


def test_poison_messages_go_to_dead_letters_and_the_stream_goes_on():
    topic = "crm.public.customers"
    producer = KafkaProducer(**kafka_access.login("admin"))
    bad = [b"{not json at all", json.dumps({"op": "x", "hello": "world"}).encode()]
    offsets = [producer.send(topic, key=b'{"customer_id":0}', value=v).get(timeout=10).offset for v in bad]
    producer.close()
    k = sql("crm", "select min(customer_id) from customers")[0][0]
    sql("crm", "update customers set city = 'after-poison' where customer_id = %s", (k,))
    catch_up()
    dead = thrift_query(
        f"select kafka_offset, raw_value, error from {changes.dead_letter_table()} "
        f"where kafka_topic = '{topic}' and kafka_offset in ({offsets[0]}, {offsets[1]}) order by 1"
    )
    assert [d[0] for d in dead] == offsets
    assert "value is not JSON" in dead[0][2] and "not a Debezium change envelope" in dead[1][2]
    assert thrift_query(f"select city from bronze.crm_customers where customer_id = {k}") == [("after-poison",)]
    assert_reconciled()


def test_new_column_flows_in_and_a_type_change_is_quarantined_without_stopping_others():
    k = sql("crm", "select min(customer_id) from customers")[0][0]
    t = sql("crm", "select min(ticket_id) from service_tickets")[0][0]
    marker = f"drift-{uuid.uuid4().hex[:8]}"  # this run's rows, whatever earlier runs left
    try:
        sql("crm", "alter table customers add column loyalty_tier text")
        sql("crm", "update customers set loyalty_tier = 'gold', city = %s where customer_id = %s", (marker, k))
        # An incompatible change: the contract's bigint arrives as text.
        sql("crm", "alter table service_tickets alter column customer_id type text using customer_id::text")
        sql("crm", "update service_tickets set status = status where ticket_id = %s", (t,))
        sql("crm", "update customers set city = %s where customer_id = %s", (marker + "-after", k))
        catch_up()
        extra = thrift_query(
            f"select extra_columns['loyalty_tier'] from {changes.change_table_for(get_contract('crm.customers'))} "
            f"where after.customer_id = {k} and after.city = '{marker}'"
        )
        assert extra == [('"gold"',)]
        dead = thrift_query(
            f"select error from {changes.dead_letter_table()} where kafka_topic = 'crm.public.service_tickets'"
        )
        assert any("column 'customer_id'" in d[0] and "expected an integer, got str" in d[0] for d in dead), dead
        assert thrift_query(f"select city from bronze.crm_customers where customer_id = {k}") == [(marker + "-after",)]
    finally:
        sql("crm", "alter table service_tickets alter column customer_id type bigint using customer_id::bigint")
        sql("crm", "alter table customers drop column if exists loyalty_tier")
    catch_up()
    assert_reconciled()
