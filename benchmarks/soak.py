"""Soak: the stack always on for ``--minutes`` under a steady load, then reconciled.

``python benchmarks/soak.py [--minutes 30] [--rate 100] [--every 5] [--file-every 300]``

With every schedule on (as ``make run`` leaves them) and the capture service up, it puts the
OLTP workload on the sources at ``--rate`` row changes per second and drops an app-log file in
the landing zone every ``--file-every`` seconds, while it

- commits a freshness sample every ``--every`` seconds (a done order's ``updated_at`` set to a
  marker, polled in ``gold.fct_orders`` through the Thrift server, as ``bench_freshness.py``);
- every 30 s records the stack's resident memory (``infra/stack.sh status``' total) and the CDC
  lag (Kafka's end offsets minus what the capture service committed);
- counts the DAG runs that failed since it started.

Then the load stops and the running pipeline is left to converge: every source table against
its current state key by key, the change logs for doubles, every file row in bronze
(``lakehouse.faults.converge``). A table per 5-minute window and the verdicts (issue 24,
point 7: no failed run, CDC lag bounded, freshness p95 <= 90 s in every window, memory growing
< 10 % between minute 5 and the end, reconciliation exact) are printed and written to
``<home>/reports/soak.json``; the exit status is 0 only if every verdict holds. Needs the stack
up and a full build done (``make run`` once).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg2
from bench_freshness import STACK, Sampler, done_orders, percentile

from core import pg_roles, services
from core.airflow_client import AirflowClient
from core.settings import get_settings
from lakehouse.faults import Load, converge
from lakehouse.run import SCHEDULED_DAGS, switch_on
from spark_jobs.cdc.consumer import group_offsets

WINDOW_S = 300
P95_TARGET_S = 90.0
MEMORY_GROWTH_LIMIT = 0.10


def stack_rss_mib() -> int:
    out = subprocess.run([STACK, "status"], capture_output=True, text=True, timeout=60).stdout
    found = re.search(r"^total\s+(\d+) MiB", out, re.M)
    return int(found.group(1)) if found else 0


def cdc_lag() -> int:
    end, committed = group_offsets(get_settings().kafka_bootstrap)
    return sum(max(0, off - committed.get(tp, 0)) for tp, off in end.items())


def failed_runs(client: AirflowClient, since: datetime) -> list[str]:
    after = since.strftime("%Y-%m-%dT%H:%M:%SZ")  # a "+00:00" offset would reach Airflow as " 00:00"
    runs = client._request("GET", f"/api/v2/dags/~/dagRuns?state=failed&start_date_gte={after}&limit=100")
    return [f"{r['dag_id']} {r['dag_run_id']}" for r in runs["dag_runs"] if r["dag_id"].startswith("lakehouse_")]


class Monitor:
    """Memory and CDC lag every ``every_s`` seconds, in a thread: (seconds since start, value)."""

    def __init__(self, every_s: float = 30.0):
        self.every_s, self.t0 = every_s, time.monotonic()
        self.memory: list[tuple[float, int]] = []
        self.lag: list[tuple[float, int]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="monitor", daemon=True)

    def _loop(self) -> None:
        while True:
            at = time.monotonic() - self.t0
            self.memory.append((at, stack_rss_mib()))
            try:
                self.lag.append((at, cdc_lag()))
            except Exception as e:  # noqa: BLE001 - recorded, not fatal: a lag unknown is a gap in the table
                print(f"  cdc lag unavailable at {at:.0f}s: {e}", flush=True)
            if self.stop.wait(self.every_s):
                return

    def __enter__(self) -> Monitor:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(timeout=120)


def windows(t0: float, duration_s: float, sampler: Sampler, monitor: Monitor) -> list[dict]:
    rows = []
    for start in range(0, int(duration_s), WINDOW_S):
        end = start + WINDOW_S
        seen = [s for at, s in sampler.latencies if start <= at - t0 < end]
        lags = [v for at, v in monitor.lag if start <= at < end]
        memory = [v for at, v in monitor.memory if start <= at < end]
        rows.append(
            {
                "minutes": f"{start // 60}-{end // 60}",
                "samples": len(seen),
                "p50_s": round(percentile(seen, 0.5), 1) if seen else None,
                "p95_s": round(percentile(seen, 0.95), 1) if seen else None,
                "cdc_lag_max": max(lags) if lags else None,
                "stack_rss_mib": max(memory) if memory else None,
            }
        )
    return rows


def memory_growth(memory: list[tuple[float, int]], from_s: float = 300) -> float | None:
    """The stack's resident memory at the end relative to minute 5 (None: too few readings)."""
    after = [v for at, v in memory if at >= from_s]
    return (after[-1] - after[0]) / after[0] if len(after) >= 2 and after[0] else None


def judge(
    table: list[dict],
    growth: float | None,
    lag: list[tuple[float, int]],
    duration_s: float,
    failed: list[str],
    lost: int,
    duplicated: int,
    missed: int,
) -> dict[str, bool]:
    """Issue 24's soak verdicts. The CDC lag is bounded when the last third's highest is no
    higher than the first two thirds' (a backlog that keeps growing fails it)."""
    early = [v for at, v in lag if at < duration_s * 2 / 3]
    late = [v for at, v in lag if at >= duration_s * 2 / 3]
    return {
        "no failed run": not failed,
        "cdc lag bounded": bool(early) and bool(late) and max(late) <= max(early),
        f"freshness p95 <= {P95_TARGET_S:.0f} s in every window": bool(table)
        and all(r["p95_s"] is not None and r["p95_s"] <= P95_TARGET_S for r in table),
        "memory growth from minute 5 < 10 %": growth is not None and growth < MEMORY_GROWTH_LIMIT,
        "reconciliation exact": lost == 0 and duplicated == 0,
        "every sample seen": missed == 0,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=30)
    p.add_argument("--rate", type=float, default=100, help="workload row changes per second")
    p.add_argument("--every", type=float, default=5.0, help="seconds between freshness samples")
    p.add_argument("--file-every", type=float, default=300.0, help="seconds between app-log files")
    p.add_argument("--converge-timeout", type=float, default=900.0)
    args = p.parse_args(argv)
    settings = get_settings()
    if not services.running("capture"):
        subprocess.run([STACK, "start", "capture"], check=True)
    client = AirflowClient.from_settings()
    for line in switch_on(client):
        print("  " + line)
    conn = psycopg2.connect(pg_roles.source_dsn("bss", "generator"))
    conn.autocommit = True
    keys = done_orders(conn)
    samples = int(args.minutes * 60 / args.every)
    if len(keys) < 2 * samples:
        p.error(f"{len(keys)} done orders in gold.fct_orders, {2 * samples} needed: run a full build first")
    sampler = Sampler(conn, "gold.fct_orders", keys, timeout_s=600)
    since = datetime.now(UTC)
    duration_s = args.minutes * 60
    print(f"soak: {args.minutes:.0f} min at {args.rate:.0f} changes/s, a file every {args.file_every:.0f}s", flush=True)
    load = Load(args.rate, int(time.time()), Path(settings.landing_dir), args.file_every, rows_per_file=500)
    stop_sampling = threading.Event()
    with Monitor() as monitor, load:
        t0 = time.monotonic()
        sender = sampler.send_every(args.every, stop_sampling)
        next_report = t0 + WINDOW_S
        while time.monotonic() - t0 < duration_s:
            sampler.poll()
            if time.monotonic() >= next_report:
                next_report += WINDOW_S
                seen = sampler.seconds()
                print(
                    f"  {(time.monotonic() - t0) / 60:.0f} min: {len(seen)} samples seen, "
                    f"p95 {percentile(seen, 0.95) if seen else float('nan'):.1f}s, "
                    f"stack {monitor.memory[-1][1] if monitor.memory else 0} MiB, "
                    f"cdc lag {monitor.lag[-1][1] if monitor.lag else '?'}",
                    flush=True,
                )
            time.sleep(2)
        stop_sampling.set()
        sender.join(timeout=60)
        deadline = time.monotonic() + 600  # the samples still pending: seen, or missed at their timeout
        while sampler.pending and time.monotonic() < deadline:
            sampler.poll()
            time.sleep(2)
    changes = load.changes
    print(f"load stopped ({changes:,} row changes, {len(load.files)} files); converging", flush=True)
    lost, duplicated, notes = converge(load.files, timeout_s=args.converge_timeout)
    try:
        failed = failed_runs(client, since)
    except Exception as e:  # noqa: BLE001 - unknown is not "none": the verdict fails, the table still prints
        failed = [f"failed runs unknown: {e}"]
    conn.close()

    table = windows(t0, duration_s, sampler, monitor)
    growth = memory_growth(monitor.memory)
    verdicts = judge(table, growth, monitor.lag, duration_s, failed, lost, duplicated, sampler.missed)
    result = {
        "minutes": args.minutes,
        "rate": args.rate,
        "workload_changes_per_s": round(changes / duration_s),
        "files": len(load.files),
        "windows": table,
        "samples_seen": len(sampler.latencies),
        "overwritten": sampler.overwritten,
        "never_seen": sampler.missed,
        "memory_growth_from_minute_5": round(growth, 3) if growth is not None else None,
        "failed_runs": failed,
        "rows_lost": lost,
        "rows_duplicated": duplicated,
        "notes": notes,
        "verdicts": verdicts,
    }
    out = settings.home / "reports" / "soak.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print("| minutes | samples | gold p50 s | gold p95 s | CDC lag max (messages) | stack RSS MiB |")
    print("|---|---|---|---|---|---|")
    for r in table:
        print(
            f"| {r['minutes']} | {r['samples']} | {r['p50_s']} | {r['p95_s']} | {r['cdc_lag_max']} | "
            f"{r['stack_rss_mib']} |"
        )
    growth_text = f"{growth:+.1%}" if growth is not None else "?"
    print(
        f"failed runs: {len(failed)}{' (' + ', '.join(failed) + ')' if failed else ''}; memory minute 5 to end "
        f"{growth_text}; reconciliation: {lost} rows lost, {duplicated} duplicated"
    )
    for name, ok in verdicts.items():
        print(f"  {'PASS' if ok else 'FAIL'}  {name}")
    print(f"(also in {out}; schedules left on: {', '.join(SCHEDULED_DAGS)})")
    return 0 if all(verdicts.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
