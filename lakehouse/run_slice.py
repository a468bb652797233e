"""The main job: CRM rows -> Debezium -> Kafka -> bronze -> dbt silver/gold -> GX -> SQL.

``python -m lakehouse.run_slice [--customers N]``: upserts N sample customers into the CRM
database, waits until Debezium has published that transaction, runs the ``lakehouse_slice``
DAG through Airflow's REST API, then reads the gold rows back through the Thrift server.
Safe to rerun: the upsert touches the same keys and every step downstream is idempotent.
"""

from __future__ import annotations

import argparse
import sys
import time

import psycopg2
from psycopg2.extras import execute_values

from lakehouse.airflow_client import AirflowClient
from lakehouse.sample_customers import COLUMNS, sample_customers
from lakehouse.settings import get_settings
from lakehouse.sql import thrift_query
from spark_jobs.cdc.fence import end_offsets, wait_for_transaction

DAG_ID = "lakehouse_slice"
TOPIC = "crm.public.customers"


def upsert_customers(rows: list[tuple]) -> int:
    """Insert or update the rows in one transaction; return its transaction id."""
    cols = ", ".join(COLUMNS)
    updates = ", ".join(f"{c} = excluded.{c}" for c in COLUMNS[1:])
    with psycopg2.connect(get_settings().pg_dsn("crm")) as conn, conn.cursor() as cur:
        execute_values(
            cur,
            f"insert into customers ({cols}) values %s on conflict (customer_id) do update set {updates}",
            rows,
        )
        cur.execute("select txid_current()")
        return cur.fetchone()[0]


def run(n_customers: int) -> int:
    s = get_settings()
    t0 = time.monotonic()
    rows = sample_customers(n_customers)
    start = end_offsets(TOPIC)
    tx_id = upsert_customers(rows)
    print(f"[1/4] crm: upserted {len(rows)} customers in transaction {tx_id}")
    wait_for_transaction(TOPIC, tx_id, len(rows), start)
    print(f"[2/4] debezium: transaction {tx_id} is in Kafka topic {TOPIC}")
    client = AirflowClient.from_settings()
    client.wait_for_dag(DAG_ID)
    run_id = client.trigger(DAG_ID)
    print(f"[3/4] airflow: triggered {DAG_ID} run {run_id}")
    state = client.wait_for_run(DAG_ID, run_id, progress=lambda line: print("      " + line))
    if state != "success":
        print(f"ERROR: {DAG_ID} run {run_id} ended {state}; task states: {client.task_states(DAG_ID, run_id)}. "
              f"Task logs: {s.log_dir / 'airflow'} or the Airflow UI", file=sys.stderr)
        return 1
    ids = ", ".join(str(r[0]) for r in rows)
    found = thrift_query(f"select count(*) from gold.dim_user where customer_id in ({ids})")[0][0]
    total = thrift_query("select count(*) from gold.dim_user")[0][0]
    print(f"[4/4] thrift: {found} of {len(rows)} upserted customers are in gold.dim_user ({total} rows in all)")
    print(
        "\nSummary\n"
        f"  time              {time.monotonic() - t0:.0f}s\n"
        f"  DAG run           {DAG_ID} {run_id}: {state}\n"
        f"  Airflow UI        {s.airflow_url}  (login {s.airflow_admin_user} / {s.airflow_admin_password})\n"
        f"  SQL endpoint      {s.thrift_jdbc_url}  e.g. beeline -u {s.thrift_jdbc_url} -e 'select * from gold.dim_user limit 5'\n"
        f"  quality report    {s.reports_dir / 'data_docs' / 'index.html'}\n"
        f"  warehouse         {s.warehouse_dir}\n"
        f"  service logs      {s.log_dir}\n"
        "  stop everything   make stop"
    )
    return 0 if found == len(rows) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20, help="sample customers to upsert (default 20)")
    args = parser.parse_args(argv)
    if args.customers < 1:
        parser.error("--customers must be at least 1")
    return run(args.customers)


if __name__ == "__main__":
    sys.exit(main())
