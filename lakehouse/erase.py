"""Erase one person's personal data from the lakehouse, on their request.

``python -m lakehouse.erase --phone '<their number, as typed>' --requested-by <who> [--reason TEXT]
[--pause-writers]``

The number is turned into its token at once (core/pii.py) and never used again. What is erased,
scrubbed, purged and vacuumed, and why Delta's retention check is overridden: see
``spark_jobs/erasure.py``. The override is safe only while nothing else writes, so the command
refuses to run while the capture service or a DAG run is writing; ``--pause-writers`` stops the
capture service and pauses the DAGs (waiting for running runs to finish), and puts both back as
they were afterwards. Every request, done or failed, is a row of ``audit.erasure_requests`` (the
token, never the number). Exit 0 when erased, 1 when it failed, 2 on a bad request, 3 when
writers are busy.

The source systems are their owners' to erase (first: while the CRM still holds the person, the
next change to the row brings them back); the command says which still do.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg2

from core import pg_roles, pii, services
from core.airflow_client import AirflowClient, AirflowError
from core.session import shared_spark
from core.settings import REPO_DIR, get_settings
from spark_jobs import erasure

# The source tables that carry a phone, with it normalised in PostgreSQL as normalize_phone does.
_SOURCE_PHONES = {
    "crm": [("customers", "phone"), ("service_tickets", "phone")],
    "bss": [("subscribers", "phone"), ("orders", "phone"), ("monthly_usage", "phone")],
}


def sources_holding(number: str) -> list[str]:
    """The source tables that still hold the number (in any typed form)."""
    found = []
    digits = number[-11:]
    for source, columns in _SOURCE_PHONES.items():
        with psycopg2.connect(pg_roles.source_dsn(source, "pipeline")) as conn, conn.cursor() as cur:
            for table, column in columns:
                cur.execute(
                    f"select count(*) from {table} where right(regexp_replace({column}, '[^0-9]', '', 'g'), 11) = %s "
                    f"and regexp_replace({column}, '[^0-9]', '', 'g') ~ '^(0086|86)?1[3-9][0-9]{{9}}$'",
                    (digits,),
                )
                n = cur.fetchone()[0]
                if n:
                    found.append(f"{source}.{table} ({n} rows)")
        conn.close()
    return found


def _airflow() -> AirflowClient | None:
    client = AirflowClient.from_settings()
    try:
        client.health()
    except (AirflowError, OSError):
        return None  # Airflow is down: no DAG run writes
    return client


def busy_writers(client: AirflowClient | None) -> list[str]:
    busy = ["the capture service"] if services.running("capture") else []
    if client is not None:
        busy += [f"task {t}" for t in client.active_tasks()]
    return busy


def _stack(*args: str) -> None:
    subprocess.run([str(REPO_DIR / "infra" / "stack.sh"), *args], check=True, timeout=300)


@contextmanager
def writers_paused(client: AirflowClient | None, progress=print, timeout_s: float = 900) -> Iterator[None]:
    """The capture service stopped and every DAG paused, once the tasks that were running have
    finished (a paused DAG starts no new task); then both put back as they were."""
    capture = services.running("capture")
    unpaused = [d for d, paused in client.dags().items() if not paused] if client else []
    try:
        if capture:
            progress("erasure: stopping the capture service")
            _stack("stop", "capture")
        for dag_id in unpaused:
            client.set_paused(dag_id, True)
        deadline = time.monotonic() + timeout_s
        while client is not None and (active := client.active_tasks()):
            if time.monotonic() > deadline:
                raise RuntimeError(f"tasks still running after {timeout_s:.0f}s ({', '.join(active)}); nothing erased")
            progress(f"erasure: waiting for {', '.join(active)}")
            time.sleep(5)
        yield
    finally:
        for dag_id in unpaused:
            client.set_paused(dag_id, False)
        if capture:
            progress("erasure: starting the capture service again")
            _stack("start", "capture")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--phone", required=True, help="the person's mobile number, in any form a source holds it")
    p.add_argument("--requested-by", required=True, help="who asked (the data subject's request reference, or staff)")
    p.add_argument("--reason", default="data subject's request for deletion")
    p.add_argument("--pause-writers", action="store_true", help="stop capture and pause the DAGs meanwhile")
    args = p.parse_args(argv)
    number = pii.e164(args.phone)
    if number is None:
        print("erasure: that is not a Chinese mobile number (11 digits, 13x-19x, +86 or 0086 allowed)", file=sys.stderr)
        return 2
    token = pii.token(number)
    request_id = uuid.uuid4().hex[:12]
    client = _airflow()
    busy = busy_writers(client)
    if busy and not args.pause_writers:
        print(f"erasure: refused while {', '.join(busy)} writes; run with --pause-writers", file=sys.stderr)
        return 3
    not_reached = [f"source {t}: its owner erases it there" for t in sources_holding(number)]
    not_reached.append("Kafka topics until their retention passes (infra/kafka/server.properties log.retention.hours)")
    not_reached.append(f"files as delivered in the landing zone ({get_settings().landing_dir})")
    row = {
        "request_id": request_id,
        "user_token": token,
        "requested_by": args.requested_by,
        "reason": args.reason,
        "started_at": erasure.now(),
        "not_reached": not_reached,
    }
    with shared_spark("lakehouse-erasure") as spark, writers_paused(client) if args.pause_writers else _nothing():
        try:
            done = erasure.erase(spark, request_id, token)
        except Exception as e:  # noqa: BLE001 - every failure is recorded, then reported
            erasure.record(spark, {**row, "finished_at": erasure.now(), "status": "failed", "error": str(e)[:2000]})
            print(
                f"erasure {request_id}: FAILED ({str(e).splitlines()[0][:300]}); recorded in {erasure.REQUESTS_TABLE}"
            )
            return 1
        erasure.record(
            spark,
            {
                **row,
                "finished_at": erasure.now(),
                "status": "erased",
                "rows_erased": done.rows,
                "tables_vacuumed": done.vacuumed,
                "retention_override": (
                    f"VACUUM RETAIN 0 HOURS with {erasure.RETENTION_CHECK}=false on {len(done.vacuumed)} tables, "
                    f"writers {'paused by this command' if args.pause_writers else 'idle'}"
                ),
            },
        )
    total = sum(done.rows.values())
    print(f"erasure {request_id}: {total} rows in {len(done.rows)} tables; recorded in {erasure.REQUESTS_TABLE}")
    for item in not_reached:
        print(f"  not reached: {item}")
    return 0


@contextmanager
def _nothing() -> Iterator[None]:
    yield


if __name__ == "__main__":
    sys.exit(main())
