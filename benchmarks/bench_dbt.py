"""Benchmark the dbt project: a full build at a scale, then an incremental build after a change.

``python benchmarks/bench_dbt.py [--scale 1] [--change 0.01]``

The scaling table of issue 24 (cost grows with the change, not the data) is two runs:
``--scale 0.25`` and ``--scale 1``; the refresh's wall at SF 1 should be at most 1.3 x that at
SF 0.25 while the full build grows with the data. Each run writes
``<home>/reports/bench_dbt-<scale>.json``.

1. Generated source data at the scale (SF 1: ~100k customers, ~1M orders, ~10M app events,
   ~5.8M cell KPI rows) written straight into a scratch bronze database (``bench_bronze``,
   lakehouse/bronze_fixture.py), as the CDC and file pipelines would hold it.
2. ``dbt build`` from scratch into ``bench_silver`` / ``bench_gold`` through the Thrift server.
3. A change of ``--change`` of the rows (updated orders, tickets, customers, plans; deleted
   orders; a new day of app events and cell KPIs), then the frequent path's build
   (``dbt build --selector refresh``, what ``lakehouse_refresh`` runs), then ``dbt build`` of
   the whole project again (incremental).
4. The floor under any incremental build: ``dbt test`` alone (the data tests every build runs,
   over the gold tables as they stand, no model built).
Both builds are the pipeline's command (``dbt build`` without the unit tests, which CI runs).
Reports both builds' wall time with and without the data tests (the target, <= 0.15, is on the
incremental build as a share of the full one), the slowest nodes, and the data tests' floor as
a share of the full build. Needs the stack running.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from core.dbt_cli import PIPELINE_BUILD_FLAGS, run_dbt
from core.settings import get_settings
from core.sql import thrift_query

BRONZE, PREFIX = "bench_bronze", "bench_"


def _build(
    target: Path, label: str, command: str = "build", select: list[str] | None = None
) -> tuple[float, list[dict]]:
    t0 = time.monotonic()
    # the pipeline's command (unit tests are CI's)
    done = run_dbt(
        [command, *PIPELINE_BUILD_FLAGS, *(select or [])],
        bronze_db=BRONZE,
        schema_prefix=PREFIX,
        target_path=str(target),
    )
    secs = time.monotonic() - t0
    if done.returncode != 0:
        print(done.stdout[-5000:], file=sys.stderr)
        raise SystemExit(f"{label}: dbt {command} failed (exit {done.returncode})")
    results = json.loads((target / "run_results.json").read_text())["results"]
    return secs, results


def _split(results: list[dict]) -> tuple[float, float]:
    """Seconds spent in data tests and in everything else (models, seeds, snapshot, unit tests)."""
    tests = sum(r["execution_time"] for r in results if r["unique_id"].startswith("test."))
    return tests, sum(r["execution_time"] for r in results) - tests


def _slowest(results: list[dict], n: int = 6) -> str:
    top = sorted(results, key=lambda r: -r["execution_time"])[:n]
    return ", ".join(f"{r['unique_id'].split('.')[2]} {r['execution_time']:.1f}s" for r in top)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--change", type=float, default=0.01)
    p.add_argument("--skip-load", action="store_true", help="reuse bench_bronze as it is (after a previous run)")
    args = p.parse_args()
    fixture = [sys.executable, "-m", "simulator.bronze_fixture", "--scale", str(args.scale), "--bronze-db", BRONZE]
    if not args.skip_load:
        print(f"[1/5] bronze: generated data at scale {args.scale} into {BRONZE}", flush=True)
        subprocess.run(fixture, check=True)
    for layer in ("silver", "gold"):
        thrift_query(f"drop database if exists {PREFIX}{layer} cascade")
    with tempfile.TemporaryDirectory() as tmp:
        print("[2/5] dbt build from scratch", flush=True)
        full_s, full = _build(Path(tmp) / "full", "full build")
        print(f"      {full_s:.0f}s; slowest: {_slowest(full)}", flush=True)
        print(f"[3/5] change {args.change:.0%} of the rows", flush=True)
        subprocess.run(fixture + ["--change", str(args.change)], check=True)
        print("[4/5] the frequent path's build (dbt build --selector refresh), then all of it again", flush=True)
        refresh_s, refresh = _build(Path(tmp) / "refresh", "refresh build", "build", ["--selector", "refresh"])
        print(f"      refresh {refresh_s:.0f}s; slowest: {_slowest(refresh)}", flush=True)
        incr_s, incr = _build(Path(tmp) / "incr", "incremental build")
        print(f"      {incr_s:.0f}s; slowest: {_slowest(incr)}", flush=True)
        print("[5/5] the data tests alone (dbt test, no model built)", flush=True)
        tests_s, tests = _build(Path(tmp) / "tests", "data tests", "test")
        print(f"      {tests_s:.0f}s; slowest: {_slowest(tests)}", flush=True)
    (full_tests, full_rest), (incr_tests, incr_rest) = _split(full), _split(incr)
    rows = thrift_query(f"select count(*) from {PREFIX}gold.fct_app_activity_daily")[0][0]
    print(
        f"\nSummary (scale {args.scale}, {len(full)} nodes; gold.fct_app_activity_daily {rows:,} rows)\n"
        f"  full build          {full_s:7.1f}s wall   (models etc. {full_rest:6.1f}s, data tests {full_tests:6.1f}s)\n"
        f"  refresh build       {refresh_s:7.1f}s wall   (--selector refresh, after the change)\n"
        f"  incremental build   {incr_s:7.1f}s wall   (models etc. {incr_rest:6.1f}s, data tests {incr_tests:6.1f}s)\n"
        f"  ratio               {incr_s / full_s:.3f} wall, "
        f"{incr_rest / full_rest:.3f} without the data tests (target <= 0.15)\n"
        f"  data tests alone    {tests_s:7.1f}s wall   ({len(tests)} tests, {tests_s / full_s:.3f} of the full build: "
        f"the floor under any build that runs them)\n"
        f"  tables              {PREFIX}silver.*, {PREFIX}gold.* on {BRONZE}.* "
        "(drop them with `drop database ... cascade`)"
    )
    out = get_settings().home / "reports" / f"bench_dbt-{args.scale:g}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "scale": args.scale,
                "change": args.change,
                "full_s": round(full_s, 1),
                "refresh_s": round(refresh_s, 1),
                "incremental_s": round(incr_s, 1),
                "data_tests_s": round(tests_s, 1),
                "fct_app_activity_daily_rows": rows,
            },
            indent=1,
        )
    )
    print(f"  result              {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
