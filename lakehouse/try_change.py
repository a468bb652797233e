"""Change one order at the source and time it to bronze and gold: ``python -m lakehouse.try_change``.

With the stack always on (``make run`` leaves it so): the capture service lands the change in
``bronze.bss_orders``, its asset event starts ``lakehouse_refresh``, which merges it into
``gold.fct_orders``. This sets the order's ``updated_at`` in the BSS database to now and polls
both tables through the Thrift server, printing the seconds each took."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime

import psycopg2

from core import pg_roles, services
from core.airflow_client import AirflowClient
from core.sql import thrift_query

REFRESH_DAG = "lakehouse_refresh"


def _updated_at(table: str, order_id: str) -> str | None:
    rows = thrift_query(f"select cast(updated_at as string) from {table} where order_id = '{order_id}'")
    return rows[0][0] if rows else None


def problems() -> list[str]:
    """What would keep a change from reaching gold by itself."""
    out = []
    if not services.running("capture"):
        out.append("the capture service is down: infra/stack.sh start capture")
    if AirflowClient.from_settings()._request("GET", f"/api/v2/dags/{REFRESH_DAG}").get("is_paused"):
        out.append(f"{REFRESH_DAG} is paused: switch it on in the Airflow UI")
    return out


def try_change(timeout_s: float, order_id: str | None = None, poll_s: float = 1.0) -> int:
    blocked = problems()
    if blocked:
        print("a change would not reach gold by itself: " + "; ".join(blocked), file=sys.stderr)
        return 2
    if order_id is None:
        rows = thrift_query("select order_id from gold.fct_orders order by order_id limit 1")
        if not rows:
            print("gold.fct_orders is empty: run the full build first (make run)", file=sys.stderr)
            return 2
        order_id = rows[0][0]
    stamp = datetime.now().replace(microsecond=0)
    with psycopg2.connect(pg_roles.dsn("bss", "generator")) as conn, conn.cursor() as cur:
        cur.execute("update orders set updated_at = %s where order_id = %s", (stamp, order_id))
        if cur.rowcount != 1:
            print(f"order {order_id} is not in the BSS database", file=sys.stderr)
            return 2
    t0 = time.monotonic()
    want = stamp.isoformat(sep=" ")
    print(f"order {order_id}: updated_at set to {want} at the source; waiting for bronze and gold")
    seen: dict[str, float] = {}
    next_note = 15.0
    while len(seen) < 2:
        elapsed = time.monotonic() - t0
        if elapsed > timeout_s:
            print(
                f"not in gold after {timeout_s:.0f}s (bronze: {'yes' if seen else 'no'}); "
                "see make status and the lakehouse_refresh runs in the Airflow UI",
                file=sys.stderr,
            )
            return 1
        for name, table in (("bronze", "bronze.bss_orders"), ("gold", "gold.fct_orders")):
            if name not in seen and _updated_at(table, order_id) == want:
                seen[name] = time.monotonic() - t0
                print(f"  in {table} after {seen[name]:.1f}s")
        if elapsed >= next_note and len(seen) < 2:
            print(f"  ... {elapsed:.0f}s")
            next_note += 15
        time.sleep(poll_s)
    print(f"source -> gold in {seen['gold']:.1f}s (bronze {seen['bronze']:.1f}s)")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--order-id", help="the order to change (default: the first in gold.fct_orders)")
    p.add_argument("--timeout", type=float, default=900, help="seconds to wait for gold")
    args = p.parse_args(argv)
    return try_change(args.timeout, args.order_id)


if __name__ == "__main__":
    sys.exit(main())
