"""Benchmark the always-on capture: source commit -> current state, as an analyst would see it.

``python benchmarks/bench_capture_latency.py [--samples 200] [--rate 100] [--every 1.0]``

With the capture service running (started here if it is not, and stopped again after) and the
OLTP workload at ``--rate`` row changes per second, a sampler commits a change every
``--every`` seconds (a customer's ``city`` set to a unique marker, a different customer each
time) and a poller reads ``bronze.crm_customers`` through the Thrift server until each marker
is there. Reports p50/p95/max of (seen - committed) over the samples seen; a sample the
workload overwrote before it was seen is counted apart, and one never seen fails the run.
Target (issue 24): p95 <= 10 s. Needs the stack up and generated sources (``make run`` once).
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import threading
import time
import uuid

import psycopg2

from core.settings import REPO_DIR, get_settings
from core.sql import thrift_query

STACK = str(REPO_DIR / "infra" / "stack.sh")


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
    p.add_argument("--samples", type=int, default=200)
    p.add_argument("--rate", type=float, default=100, help="workload row changes per second")
    p.add_argument("--every", type=float, default=1.0, help="seconds between samples")
    p.add_argument("--timeout", type=float, default=120, help="a sample not seen after this is a failure")
    args = p.parse_args(argv)

    started_here = not _capture_running()
    if started_here:
        subprocess.run([STACK, "start", "capture"], check=True)
    settings = get_settings()
    conn = psycopg2.connect(settings.source_dsn("crm"))
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("select customer_id from customers")
        keys = [r[0] for r in cur.fetchall()]
    rng = random.Random(24)
    pending: dict[int, tuple[str, float]] = {}  # key -> (marker, committed at)
    latencies: list[float] = []
    overwritten = missed = 0
    stop, counts = threading.Event(), {"changes": 0}
    load = threading.Thread(target=_workload, args=(args.rate, stop, counts), daemon=True)
    load.start()
    time.sleep(5)
    print(f"capture latency: {args.samples} samples under {args.rate:.0f} changes/s", flush=True)
    sent, printed, next_sample, t0 = 0, 0, time.monotonic(), time.monotonic()
    try:
        while sent < args.samples or pending:
            now = time.monotonic()
            if sent < args.samples and now >= next_sample:
                key = rng.choice([k for k in keys if k not in pending])
                marker = f"lat-{uuid.uuid4().hex[:10]}"
                with conn.cursor() as cur:
                    cur.execute("update customers set city = %s where customer_id = %s", (marker, key))
                pending[key] = (marker, time.monotonic())
                sent += 1
                next_sample += args.every
            if pending:
                in_list = ", ".join(str(k) for k in pending)
                seen_at = time.monotonic()
                rows = dict(
                    thrift_query(f"select customer_id, city from bronze.crm_customers where customer_id in ({in_list})")
                )
                for key, (marker, at) in list(pending.items()):
                    city = rows.get(key)
                    if city == marker:
                        latencies.append(seen_at - at)
                        del pending[key]
                    elif city is not None and not city.startswith("lat-") and seen_at - at > 5:
                        with conn.cursor() as cur:  # the workload wrote the row after the marker
                            cur.execute("select city from customers where customer_id = %s", (key,))
                            if cur.fetchone()[0] != marker:
                                overwritten += 1
                                del pending[key]
                    elif seen_at - at > args.timeout:
                        missed += 1
                        del pending[key]
            if len(latencies) >= printed + 25:
                printed = len(latencies)
                print(f"  {printed} seen, p50 {percentile(latencies, 0.5):.1f}s so far", flush=True)
            time.sleep(0.2)
    finally:
        stop.set()
        load.join(timeout=30)
        conn.close()
        if started_here:
            subprocess.run([STACK, "stop", "capture"], check=False)
    wall = time.monotonic() - t0
    print(
        f"| samples seen | p50 s | p95 s | max s | overwritten by the workload | never seen | workload changes/s |\n"
        f"|---|---|---|---|---|---|---|\n"
        f"| {len(latencies)} | {percentile(latencies, 0.5):.1f} | {percentile(latencies, 0.95):.1f} | "
        f"{max(latencies):.1f} | {overwritten} | {missed} | {counts['changes'] / wall:.0f} |"
    )
    return 0 if missed == 0 and latencies else 1


if __name__ == "__main__":
    sys.exit(main())
