"""Benchmark the whole pipeline at a scale: the main job's DAG run, stage by stage, and the
quality gates' share of it.

``python benchmarks/bench_pipeline.py [--scale 1] [--run-id RUN]``

1. ``python -m lakehouse.run --scale SF``: the README's main job (sources generated into
   PostgreSQL and the landing zone, then the ``lakehouse_build`` DAG: CDC capture (or the
   capture service's), file loads, the bronze gate, dbt silver, the silver gate, dbt gold, the gold gate; then
   its own checks). With ``--run-id`` an earlier DAG run is read instead.
2. From Airflow's REST API: the DAG run's wall time and every task's duration, grouped by stage.

The share is the gates' time over the DAG run's wall time (target <= 0.15). Each gate runs
alone: it waits for its whole layer and the next layer waits for it, so its duration adds to
the wall time one for one. Generating the sources is not the pipeline's time and is left out.
Needs the stack running (``make start``).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections import defaultdict
from datetime import datetime

from core.airflow_client import AirflowClient
from lakehouse.run import DAG_ID

STAGES = (
    ("capture", ("capture",)),
    ("file loads", ("load_files",)),
    ("quality gates", ("validate_bronze", "validate_silver", "validate_gold")),
    ("dbt silver", ("silver",)),
    ("dbt gold", ("gold",)),
)


def _when(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


def stage_of(task_id: str) -> str:
    for stage, prefixes in STAGES:
        if any(task_id == p or (p.endswith(".") and task_id.startswith(p)) for p in prefixes):
            return stage
    return "other"


def latest_run(client: AirflowClient) -> str:
    runs = client._request("GET", f"/api/v2/dags/{DAG_ID}/dagRuns?order_by=-start_date&limit=1")["dag_runs"]
    if not runs:
        raise SystemExit(f"no run of {DAG_ID} yet")
    return runs[0]["dag_run_id"]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--run-id", help="read this finished DAG run instead of running the main job")
    args = p.parse_args()
    client = AirflowClient.from_settings()
    main_job_s = None
    if not args.run_id:
        print(f"[1/2] main job at scale {args.scale} (python -m lakehouse.run)", flush=True)
        t0 = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "lakehouse.run", "--scale", str(args.scale)])
        main_job_s = time.monotonic() - t0
        if done.returncode != 0:
            print(f"main job failed (exit {done.returncode}); the DAG run is still measured below", file=sys.stderr)
    run_id = args.run_id or latest_run(client)
    run = client._request("GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}")
    if run["state"] != "success":
        raise SystemExit(f"{DAG_ID} run {run_id} is {run['state']}: measure a successful run")
    tis = client._request("GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances?limit=200")["task_instances"]
    wall = (_when(run["end_date"]) - _when(run["start_date"])).total_seconds()
    by_stage: dict[str, float] = defaultdict(float)
    spans: dict[str, list[datetime]] = defaultdict(list)
    for ti in tis:
        if ti.get("start_date") and ti.get("end_date"):
            stage = stage_of(ti["task_id"])
            by_stage[stage] += ti["duration"] or 0.0
            spans[stage] += [_when(ti["start_date"]), _when(ti["end_date"])]
    gates = {ti["task_id"]: ti["duration"] for ti in tis if stage_of(ti["task_id"]) == "quality gates"}
    share = sum(gates.values()) / wall
    scale = f"scale {args.scale}" if not args.run_id else f"run {run_id}"
    print(f"[2/2] {DAG_ID} run {run_id}: {len(tis)} tasks, wall {wall:.0f}s\n\nSummary ({scale})")
    if main_job_s is not None:
        print(f"  main job           {main_job_s:7.0f}s (generation, DAG run, checks)")
    print(f"  DAG run wall time  {wall:7.0f}s")
    for stage, _ in STAGES:
        if spans[stage] and stage != "quality gates":
            span = (max(spans[stage]) - min(spans[stage])).total_seconds()
            print(f"  {stage:<18} {span:7.0f}s from first start to last end ({by_stage[stage]:.0f}s of task time)")
    print("  gates              " + ", ".join(f"{t} {d:.0f}s" for t, d in sorted(gates.items())))
    print(f"  share              {share:.3f} of the DAG run's wall time (target <= 0.15)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
