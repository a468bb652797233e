"""Benchmark freshness: source commit -> visible through the Thrift server, always on.

``python benchmarks/bench_freshness.py [--to bronze|gold] [--samples 200] [--rate 100] [--every 1.0]
[--no-warmup]``

With the stack always on (the capture service started here if it is not; for ``--to gold`` the
``lakehouse_refresh`` and ``lakehouse_files`` schedules turned on) and the OLTP workload at
``--rate`` row changes per second, a sampler commits a change every ``--every`` seconds: a
done order's ``updated_at`` set to a unique marker, a different order each time (the workload
advances pending orders and deletes cancelled ones: a done one it never touches again). A poller reads
``bronze.bss_orders_changes`` (``--to changes``: the change log the consumer writes),
``bronze.bss_orders`` (``--to bronze``: the current state) or ``gold.fct_orders`` (``--to gold``)
through the Thrift server until each marker is there. Reports p50/p95/max of (seen - committed);
a sample the workload overwrote before it was seen is counted apart, and one never seen fails
the run. For gold, sampling starts once a refresh run that started under the load has finished
(the first one after a quiet spell catches up a backlog). Targets (issue 24): bronze p95 <= 10 s;
gold p95 <= 90 s and p50 <= 45 s over >= 200 samples. Needs the stack up and a full build done
(``make run`` once). The table also goes to ``<home>/reports/freshness-<to>.json``.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import psycopg2

from core import pg_roles, services
from core.airflow_client import AirflowClient
from core.settings import REPO_DIR, get_settings
from core.sql import thrift_query
from simulator.generator.catalogue import STATUS_CODES

STACK = str(REPO_DIR / "infra" / "stack.sh")
TABLES = {"changes": "bronze.bss_orders_changes", "bronze": "bronze.bss_orders", "gold": "gold.fct_orders"}
SCHEDULED = ["lakehouse_files", "lakehouse_refresh"]
# Markers lie in a year no workload writes, one second apart: each is unique and recognisable.
MARKER_BASE = datetime(2001, 1, 1)


def _workload(rate: float, stop: threading.Event, counts: dict) -> None:
    from simulator.workload import Workload

    w = Workload(seed=int(time.time()))
    try:
        while not stop.is_set():
            counts["changes"] += w.run(rate=rate, duration_s=1.0).changes
    finally:
        w.close()


def _warm_up(client: AirflowClient, since: datetime, timeout_s: float = 1800) -> None:
    """Until a ``lakehouse_refresh`` run that started under the load has finished: the first run
    after a quiet spell catches up the backlog (whole-table gates), which is not the steady state."""
    print("warming up: until a lakehouse_refresh run started under the load has finished", flush=True)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        runs = client._request("GET", "/api/v2/dags/lakehouse_refresh/dagRuns?limit=5&order_by=-start_date")["dag_runs"]
        if any(
            r["start_date"] and datetime.fromisoformat(r["start_date"]) > since and r["state"] in ("success", "failed")
            for r in runs
        ):
            return
        time.sleep(5)
    raise SystemExit(f"no lakehouse_refresh run finished within {timeout_s:.0f}s of the load starting")


def _poll_sql(table: str, in_list: str) -> str:
    if table.endswith("_changes"):  # the change log: every marker an order's events carry
        return (
            f"select after.order_id, cast(after.updated_at as string) from {table} "
            f"where after.order_id in ({in_list}) and after.updated_at < timestamp'2002-01-01'"
        )
    return f"select order_id, cast(updated_at as string) from {table} where order_id in ({in_list})"


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def done_orders(conn, table: str = "gold.fct_orders") -> list[str]:
    """Orders in their final status both at the source and in ``table``: the workload advances
    pending orders and deletes cancelled ones, a done one it never touches again."""
    with conn.cursor() as cur:
        cur.execute("select order_id from orders where status = any(%s)", ([c[1] for c in STATUS_CODES.values()],))
        live = {r[0] for r in cur.fetchall()}
    return sorted(live.intersection(r[0] for r in thrift_query(f"select order_id from {table}")))


class Sampler:
    """Commits markers into done orders' ``updated_at`` and polls ``table`` until each is there.

    ``latencies`` holds (committed at, seconds to visible) per marker seen; a marker the workload
    overwrote first is counted in ``overwritten``, one not seen within ``timeout_s`` in ``missed``."""

    def __init__(self, conn, table: str, keys: list[str], timeout_s: float):
        self.conn, self.table, self.keys, self.timeout_s = conn, table, keys, timeout_s
        self.rng = random.Random(time.time_ns())  # markers never seen before, not those of an earlier run
        self.pending: dict[str, tuple[str, float]] = {}  # order -> (marker, committed at)
        self.latencies: list[tuple[float, float]] = []
        self.overwritten = self.missed = 0
        self.lock = threading.Lock()  # send() may run in a thread of its own, beside poll()

    def send(self) -> None:
        with self.lock:
            key = self.rng.choice([k for k in self.keys if k not in self.pending])
            marker = MARKER_BASE + timedelta(seconds=self.rng.randrange(10**8))
            with self.conn.cursor() as cur:
                cur.execute("update orders set updated_at = %s where order_id = %s", (marker, key))
            self.pending[key] = (marker.isoformat(sep=" "), time.monotonic())

    def send_every(self, every_s: float, stop: threading.Event, limit: int | None = None) -> threading.Thread:
        """Send a sample every ``every_s`` seconds until ``stop`` (or ``limit`` samples), however
        long a poll takes."""

        def loop() -> None:
            sent = 0
            while (limit is None or sent < limit) and not stop.wait(every_s):
                self.send()
                sent += 1

        thread = threading.Thread(target=loop, name="sampler", daemon=True)
        thread.start()
        return thread

    def poll(self) -> None:
        with self.lock:
            if not self.pending:
                return
            in_list = ", ".join(f"'{k}'" for k in self.pending)
        seen_at = time.monotonic()
        rows: dict[str, set[str]] = {}
        for key, value in thrift_query(_poll_sql(self.table, in_list)):
            rows.setdefault(key, set()).add(value)
        with self.lock:
            self._settle(rows, seen_at)

    def _settle(self, rows: dict[str, set[str]], seen_at: float) -> None:
        for key, (marker, at) in list(self.pending.items()):
            if at > seen_at:  # sent while the query ran
                continue
            values = rows.get(key, set())
            value = next(iter(values), "")
            if marker in values:
                self.latencies.append((at, seen_at - at))
                del self.pending[key]
            elif not self.table.endswith("_changes") and not value.startswith("2001-") and seen_at - at > 5:
                with self.conn.cursor() as cur:  # the workload wrote (or deleted) the row after the marker?
                    cur.execute("select cast(updated_at as text) from orders where order_id = %s", (key,))
                    now_at = cur.fetchone()
                    if now_at is None or not now_at[0].startswith("2001-"):
                        self.overwritten += 1
                        del self.pending[key]
            if key in self.pending and seen_at - at > self.timeout_s:
                self.missed += 1
                del self.pending[key]

    def seconds(self) -> list[float]:
        return [s for _, s in self.latencies]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--to", choices=sorted(TABLES), default="gold", help="where a change must be visible")
    p.add_argument("--samples", type=int, default=200)
    p.add_argument("--rate", type=float, default=100, help="workload row changes per second")
    p.add_argument("--every", type=float, default=1.0, help="seconds between samples")
    p.add_argument("--timeout", type=float, default=300, help="a sample not seen after this is a failure")
    p.add_argument(
        "--no-warmup", action="store_true", help="gold: sample at once (default: after a refresh run under the load)"
    )
    args = p.parse_args(argv)
    table = TABLES[args.to]

    started_here = not services.running("capture")
    if started_here:
        subprocess.run([STACK, "start", "capture"], check=True)
    client = AirflowClient.from_settings()
    was_paused = {}
    if args.to == "gold":
        was_paused = {d: client.wait_for_dag(d)["is_paused"] for d in SCHEDULED}  # wait_for_dag turns it on
    settings = get_settings()
    conn = psycopg2.connect(pg_roles.source_dsn("bss", "generator"))
    conn.autocommit = True
    keys = done_orders(conn)
    if len(keys) < 2 * args.samples:
        p.error(f"{len(keys)} orders in both the source and gold.fct_orders: run a full build first (make run)")
    sampler = Sampler(conn, table, keys, args.timeout)
    stop, counts = threading.Event(), {"changes": 0}
    load = threading.Thread(target=_workload, args=(args.rate, stop, counts), daemon=True)
    load.start()
    time.sleep(5)
    print(f"freshness to {table}: {args.samples} samples under {args.rate:.0f} changes/s", flush=True)
    printed, t0 = 0, time.monotonic()
    sending = threading.Event()
    try:
        if args.to == "gold" and not args.no_warmup:
            _warm_up(client, datetime.now(UTC))
            t0 = time.monotonic()
            counts["changes"] = 0  # the rate over the sampling only
        # samples go out on a timer of their own: a slow poll (a big view) must not space them out
        sender = sampler.send_every(args.every, sending, limit=args.samples)
        while sender.is_alive() or sampler.pending:
            sampler.poll()
            if len(sampler.latencies) >= printed + 25:
                printed = len(sampler.latencies)
                print(f"  {printed} seen, p50 {percentile(sampler.seconds(), 0.5):.1f}s so far", flush=True)
            time.sleep(2 if args.to == "gold" else 0.5)
    finally:
        sending.set()
        stop.set()
        load.join(timeout=30)
        conn.close()
        if started_here:
            subprocess.run([STACK, "stop", "capture"], check=False)
        for dag_id, paused in was_paused.items():
            if paused:  # a DAG paused mid-run leaves the run hanging until it is switched on again
                client.wait_until_idle(dag_id)
            client.set_paused(dag_id, paused)
    wall = time.monotonic() - t0
    latencies = sampler.seconds()
    result = {
        "to": table,
        "samples_seen": len(latencies),
        "p50_s": round(percentile(latencies, 0.5), 1) if latencies else None,
        "p95_s": round(percentile(latencies, 0.95), 1) if latencies else None,
        "max_s": round(max(latencies), 1) if latencies else None,
        "overwritten": sampler.overwritten,
        "never_seen": sampler.missed,
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
        f"{sampler.overwritten} | {sampler.missed} | {result['workload_changes_per_s']} |\n"
        f"(also in {out})"
    )
    return 0 if sampler.missed == 0 and latencies else 1


if __name__ == "__main__":
    sys.exit(main())
