"""Benchmark the models on generated data whose truth is known: churn propensity against the
3-day rule, the cell-fault forecast against the threshold flag, with training and scoring times.

``python benchmarks/bench_ml.py [--scale 1] [--days 60] [--skip-load | --reuse-bronze]``

1. Generated source data (``--days`` of it; SF 1: ~100k subscribers, ~2,000 cells) written into a
   scratch bronze database (``mlb_bronze``, simulator/bronze_fixture.py).
2. ``dbt build`` of the gold tables the models read, into ``mlb_gold``, through the Thrift server.
3. ``train`` of both models (spark_jobs/ml), then a day's churn scoring and the fault forecast's
   scoring of every hour; the figures land in ``mlb_quality.model_runs``.
Writes ``<home>/reports/bench_ml-<scale>.json``. Needs the stack running.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BRONZE, PREFIX = "mlb_bronze", "mlb_"
GOLD_INPUTS = "+dim_user +fct_app_activity_daily +fct_service_tickets +fct_cell_kpi_hourly +dim_product"
KPI_BOARD = "+fct_operations_kpis"  # the KPI table with targets, at the same scale


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--days", type=int, default=60)
    p.add_argument("--monthly-churn", type=float, default=0.02)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--skip-load", action="store_true", help="reuse mlb_bronze and mlb_gold as they are")
    p.add_argument("--reuse-bronze", action="store_true", help="reuse mlb_bronze; rebuild gold")
    args = p.parse_args()
    os.environ["LAKEHOUSE_SCHEMA_PREFIX"] = PREFIX  # before settings are read: the jobs use mlb_gold
    from core.dbt_cli import PIPELINE_BUILD_FLAGS, run_dbt
    from core.session import shared_spark
    from core.settings import get_settings
    from core.sql import thrift_query
    from spark_jobs.ml import churn, faults

    figures: dict = {"scale": args.scale, "days": args.days, "monthly_churn": args.monthly_churn}
    if not args.skip_load:
        # a clean build and no earlier model: gold's incremental facts would keep an earlier
        # bronze's rows, and an earlier run would be the model to beat
        for layer in ("silver", "gold", "quality"):
            thrift_query(f"drop database if exists {PREFIX}{layer} cascade")
    if not args.skip_load and not args.reuse_bronze:
        t0 = time.monotonic()
        fixture = [sys.executable, "-m", "simulator.bronze_fixture", "--bronze-db", BRONZE]
        fixture += ["--scale", str(args.scale), "--days", str(args.days), "--seed", str(args.seed)]
        fixture += ["--monthly-churn", str(args.monthly_churn)]
        subprocess.run(fixture, check=True)
        figures["load_seconds"] = time.monotonic() - t0
    if not args.skip_load:
        t0 = time.monotonic()
        with tempfile.TemporaryDirectory() as target:
            done = run_dbt(
                [
                    "build",
                    *PIPELINE_BUILD_FLAGS,
                    "--select",
                    *GOLD_INPUTS.split(),
                    KPI_BOARD,
                    "--exclude",
                    "test_type:data",
                ],
                bronze_db=BRONZE,
                schema_prefix=PREFIX,
                target_path=target,
            )
        if done.returncode != 0:
            print(done.stdout[-5000:], file=sys.stderr)
            raise SystemExit(f"dbt build failed (exit {done.returncode})")
        figures["dbt_seconds"] = time.monotonic() - t0
        print(f"gold built in {figures['dbt_seconds']:.0f}s", flush=True)
    with shared_spark("bench-ml") as spark:
        board = f"{PREFIX}gold.fct_operations_kpis"
        if spark.catalog.tableExists(board):
            figures["kpis"] = [
                r.asDict()
                for r in spark.table(board)
                .select("period", "kpi", "kpi_value", "unit", "direction", "target", "meets_target", "as_of_date")
                .orderBy("period", "kpi")
                .collect()
            ]
        for name, job in (("churn", churn.train), ("faults", faults.train)):
            t0 = time.monotonic()
            run = job(spark)
            figures[name] = {
                "train_seconds": time.monotonic() - t0,
                "metrics": run.metrics,
                "baseline": run.baseline_metrics,
                "held_out": run.held_out,
            }
        for name, scorer in (("churn", churn.score_day), ("faults", faults.score_hours)):
            t0 = time.monotonic()
            figures[name]["scored_rows"] = scorer(spark)
            figures[name]["score_seconds"] = time.monotonic() - t0
    out = Path(get_settings().reports_dir) / f"bench_ml-{args.scale:g}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=1, default=str))
    c, f = figures["churn"], figures["faults"]
    for k in figures.get("kpis", []):
        target = (
            ""
            if k["target"] is None
            else f"{k['direction']} {k['target']:.3f}: {'meets' if k['meets_target'] else 'misses'}"
        )
        value = "" if k["kpi_value"] is None else f"{k['kpi_value']:.3f}"
        print(f"{k['period']:<6} {k['kpi']:<38} {value:>9} {k['unit']:<10} {target}")
    print(
        f"\nchurn: ROC AUC {c['metrics']['roc_auc']:.3f} (target >= 0.80), top-decile precision "
        f"{c['metrics']['top_decile_precision']:.3f} vs the 3-day rule's {c['baseline']['precision']:.3f} "
        f"= {c['metrics']['top_decile_lift_over_rule']:.1f}x (target >= 2); train {c['train_seconds']:.0f}s, "
        f"score {c['score_seconds']:.0f}s\n"
        f"faults: recall {f['metrics']['recall']:.2f} at precision {f['metrics']['precision']:.2f}, median lead "
        f"{f['metrics']['median_lead_hours']:.0f} h (target recall >= 0.7 at precision >= 0.5, lead >= 1 h) vs "
        f"the flag's recall {f['baseline']['recall']:.2f} at precision {f['baseline']['precision']:.2f}; "
        f"train {f['train_seconds']:.0f}s, score {f['score_seconds']:.0f}s\nfigures: {out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
