"""Benchmark the quality gates: validation time as a share of the pipeline's time at a scale.

``python benchmarks/bench_quality.py [--scale 1] [--skip-load] [--skip-build]``

1. Generated source data at the scale written into a scratch bronze database (``bench_bronze``,
   as bench_dbt.py does; this stand-in is much faster than the CDC and file loaders, so the share
   below is an upper bound: ``bench_pipeline.py`` measures the gates inside the real DAG run).
2. ``dbt build`` from scratch into ``bench_silver`` / ``bench_gold``.
3. ``python -m expectations.validate --layer all``: every rule of the three layers (results in
   ``bench_quality``).
Reports each step's wall time, validation's share of the three (target <= 0.15) and the slowest
tables. Needs the stack running.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

from core.dbt_cli import run_dbt
from core.settings import get_settings, settings_env
from core.sql import thrift_query

BRONZE, PREFIX = "bench_bronze", "bench_"


def _timed(label: str, fn) -> float:
    print(label, flush=True)
    t0 = time.monotonic()
    fn()
    secs = time.monotonic() - t0
    print(f"      {secs:.1f}s", flush=True)
    return secs


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--skip-load", action="store_true", help="reuse bench_bronze (load time then not counted)")
    p.add_argument("--skip-build", action="store_true", help="reuse bench_silver / bench_gold (build time not counted)")
    args = p.parse_args()
    bench_home = get_settings().home / "bench_quality"  # its own GX store and report, not the pipeline's
    env = {
        **os.environ,
        **settings_env(
            bronze_db=BRONZE,
            schema_prefix=PREFIX,
            spark_conf_dir=get_settings().spark_conf_dir,
            gx_root=bench_home / "gx",
            data_docs_dir=bench_home / "reports" / "data_docs",
        ),
    }

    def load():
        subprocess.run(
            [sys.executable, "-m", "simulator.bronze_fixture", "--scale", str(args.scale), "--bronze-db", BRONZE],
            check=True,
            env=env,
        )

    def build():
        for layer in ("silver", "gold"):
            thrift_query(f"drop database if exists {PREFIX}{layer} cascade")
        with tempfile.TemporaryDirectory() as tmp:
            done = run_dbt(["build"], bronze_db=BRONZE, schema_prefix=PREFIX, target_path=tmp)
        if done.returncode != 0:
            print(done.stdout[-4000:], file=sys.stderr)
            raise SystemExit(f"dbt build failed (exit {done.returncode})")

    out: list[str] = []

    def validate():
        thrift_query(f"drop database if exists {PREFIX}quality cascade")
        proc = subprocess.Popen(
            [sys.executable, "-m", "expectations.validate", "--layer", "all", "--run-id", "bench"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for line in proc.stdout:
            out.append(line)
            print("      " + line.rstrip(), flush=True)
        if proc.wait() not in (0, 3):  # 3: a critical rule stopped, still a full validation
            raise SystemExit(f"validation failed (exit {proc.returncode})")

    load_s = (
        0.0 if args.skip_load else _timed(f"[1/3] bronze: generated data at scale {args.scale} into {BRONZE}", load)
    )
    build_s = 0.0 if args.skip_build else _timed("[2/3] dbt build from scratch", build)
    validate_s = _timed("[3/3] validate bronze, silver and gold", validate)
    tables = sorted(
        (
            (float(m.group(3)), m.group(1), m.group(2))
            for line in out
            if (m := re.match(r"\s+(\w+) (\S+)\s+\d+ checks.*?([\d.]+)s$", line))
        ),
        reverse=True,
    )
    rows = thrift_query(
        f"select count(*), sum(rows_checked) from {PREFIX}quality.validation_results where run_id = 'bench'"
    )[0]
    total = load_s + build_s + validate_s
    print(
        f"\nSummary (scale {args.scale})\n"
        f"  bronze load         {load_s:7.1f}s" + (" (skipped)" if args.skip_load else "") + "\n"
        f"  dbt build (full)    {build_s:7.1f}s" + (" (skipped)" if args.skip_build else "") + "\n"
        f"  validation          {validate_s:7.1f}s  ({rows[0]} checks over {rows[1]:,} row-checks)\n"
        f"  share               {validate_s / total:.3f} of {total:.0f}s (target <= 0.15)\n"
        "  slowest tables      " + ", ".join(f"{layer} {t} {s:.1f}s" for s, layer, t in tables[:5]) + "\n"
        f"  results             {PREFIX}quality.validation_results (run 'bench')"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
