"""Benchmark freshness: source commit -> visible through the Thrift server, always on.

``python benchmarks/bench_freshness.py [--to bronze|gold] [--samples 200] [--rate 100] [--every 1.0]``

With the stack always on (the capture service started here if it is not; for ``--to gold`` the
``lakehouse_refresh`` and ``lakehouse_files`` schedules turned on) and the OLTP workload at
``--rate`` row changes per second, a sampler commits a change every ``--every`` seconds: an
order's ``updated_at`` set to a unique marker, a different order each time. A poller reads
``bronze.bss_orders`` (``--to bronze``: the current state) or ``gold.fct_orders`` (``--to gold``)
through the Thrift server until each marker is there. Reports p50/p95/max of (seen - committed);
a sample the workload overwrote before it was seen is counted apart, and one never seen fails
the run. Targets (issue 24): bronze p95 <= 10 s; gold p95 <= 90 s and p50 <= 45 s over >= 200
samples. Needs the stack up and a full build done (``make run`` once). The table also goes to
``<home>/reports/freshness-<to>.json``.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta

import psycopg2

from core.airflow_client import AirflowClient
from core.settings import REPO_DIR, get_settings
from core.sql import thrift_query

STACK = str(REPO_DIR / "infra" / "stack.sh")
TABLES = {"bronze": "bronze.bss_orders", "gold": "gold.fct_orders"}
SCHEDULED = ["lakehouse_files", "lakehouse_refresh"]
# Markers lie in a year no workload writes, one second apart: each is unique and recognisable.
MARKER_BASE = datetime(2001, 1, 1)


def _capture_running() -> bool:
    return "up " in subprocess.run([STACK, "status", "capture"], capture_output=True, text=True).stdout


def _workload(rate: float, stop: threading.Event, counts: dict) -> None:
    from simulator.workload import Workload

    w = Workload(seed=int(time.time()))
    try:
        while not stop.is_set():
            counts["changes"] += w.run(rate=rate, duration_s=1.0).changes
    finally:
        w.close()


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--to", choices=sorted(TABLES), default="gold", help="where a change must be visible")
    p.add_argument("--samples", type=int, default=200)
    p.add_argument("--rate", type=float, default=100, help="workload row changes per second")
    p.add_argument("--every", type=float, default=1.0, help="seconds between samples")
    p.add_argument("--timeout", type=float, default=300, help="a sample not seen after this is a failure")
    args = p.parse_args(argv)
    table = TABLES[args.to]

    started_here = not _capture_running()
    if started_here:
        subprocess.run([STACK, "start", "capture"], check=True)
    client = AirflowClient.from_settings()
    was_paused = {}
    if args.to == "gold":
        was_paused = {d: client.wait_for_dag(d)["is_paused"] for d in SCHEDULED}  # wait_for_dag turns it on
    settings = get_settings()
    conn = psycopg2.connect(settings.source_dsn("bss"))
    conn.autocommit = True
    with conn.cursor() as cur:  # orders in gold that the source still has
        cur.execute("select order_id from orders")
        live = {r[0] for r in cur.fetchall()}
    keys = sorted(live.intersection(r[0] for r in thrift_query("select order_id from gold.fct_orders")))
    if len(keys) < 2 * args.samples:
        p.error(f"{len(keys)} orders in both the source and gold.fct_orders: run a full build first (make run)")
    rng = random.Random(24)
    pending: dict[str, tuple[str, float]] = {}  # order -> (marker, committed at)
    latencies: list[float] = []
    overwritten = missed = 0
    stop, counts = threading.Event(), {"changes": 0}
    load = threading.Thread(target=_workload, args=(args.rate, stop, counts), daemon=True)
    load.start()
    time.sleep(5)
    print(f"freshness to {table}: {args.samples} samples under {args.rate:.0f} changes/s", flush=True)
    sent, printed, next_sample, t0 = 0, 0, time.monotonic(), time.monotonic()
    try:
        while sent < args.samples or pending:
            now = time.monotonic()
            if sent < args.samples and now >= next_sample:
                key = rng.choice([k for k in keys if k not in pending])
                marker = MARKER_BASE + timedelta(seconds=rng.randrange(10**8))
                with conn.cursor() as cur:
                    cur.execute("update orders set updated_at = %s where order_id = %s", (marker, key))
                pending[key] = (marker.isoformat(sep=" "), time.monotonic())
                sent += 1
                next_sample += args.every
            if pending:
                in_list = ", ".join(f"'{k}'" for k in pending)
                seen_at = time.monotonic()
                rows = dict(
                    thrift_query(
                        f"select order_id, cast(updated_at as string) from {table} where order_id in ({in_list})"
                    )
                )
                for key, (marker, at) in list(pending.items()):
                    value = rows.get(key, "")
                    if value == marker:
                        latencies.append(seen_at - at)
                        del pending[key]
                    elif not value.startswith("2001-") and seen_at - at > 5:
                        with conn.cursor() as cur:  # the workload wrote (or deleted) the row after the marker?
                            cur.execute("select cast(updated_at as text) from orders where order_id = %s", (key,))
                            now_at = cur.fetchone()
                            if now_at is None or not now_at[0].startswith("2001-"):
                                overwritten += 1
                                del pending[key]
                    if key in pending and seen_at - at > args.timeout:
                        missed += 1
                        del pending[key]
            if len(latencies) >= printed + 25:
                printed = len(latencies)
                print(f"  {printed} seen, p50 {percentile(latencies, 0.5):.1f}s so far", flush=True)
            time.sleep(0.5 if args.to == "bronze" else 2)
    finally:
        stop.set()
        load.join(timeout=30)
        conn.close()
        if started_here:
            subprocess.run([STACK, "stop", "capture"], check=False)
        for dag_id, paused in was_paused.items():
            client.set_paused(dag_id, paused)
    wall = time.monotonic() - t0
    result = {
        "to": table,
        "samples_seen": len(latencies),
        "p50_s": round(percentile(latencies, 0.5), 1) if latencies else None,
        "p95_s": round(percentile(latencies, 0.95), 1) if latencies else None,
        "max_s": round(max(latencies), 1) if latencies else None,
        "overwritten": overwritten,
        "never_seen": missed,
        "workload_changes_per_s": round(counts["changes"] / wall),
    }
    out = settings.home / "reports" / f"freshness-{args.to}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(
        "| to | samples seen | p50 s | p95 s | max s | overwritten by the workload | never seen | workload changes/s |"
        "\n"
        "|---|---|---|---|---|---|---|---|\n"
        f"| {table} | {result['samples_seen']} | {result['p50_s']} | {result['p95_s']} | {result['max_s']} | "
        f"{overwritten} | {missed} | {result['workload_changes_per_s']} |\n"
        f"(also in {out})"
    )
    return 0 if missed == 0 and latencies else 1


if __name__ == "__main__":
    sys.exit(main())
