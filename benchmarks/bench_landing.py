"""Benchmark the landing-zone loader against a plain Spark Parquet write, in one run.

``python benchmarks/bench_landing.py [--scale 0.05]``

Generates the file feeds (row-level defects as usual; no broken files, so the plain reader can
read them too) into a scratch folder, then times, on the same files and the same SparkSession:
1. the loader: contract checks, quarantine, dedup, bronze Delta appends, manifest, into a
   scratch database (``bronze_bench``);
2. a plain ``spark.read.json`` / ``spark.read.csv`` of the same files written as Parquet, twice
   (the faster run counts: the first pays for a cold JVM's compiling).
Reports rows/s of both and their ratio (target >= 0.8), and the cost of a rerun (no new files).
Needs the stack's rendered Spark configuration and metastore (``infra/stack.sh start postgres``).
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path

from core.settings import override_settings

BENCH_DB = "bronze_bench"


def _plain(spark, root: Path, out: Path, feeds) -> tuple[float, int]:
    t0 = time.monotonic()
    rows = 0
    for feed in feeds:
        files = str(root / feed.subdir / feed.glob)
        reader = (
            spark.read.option("header", "true").csv(files) if feed.contract.format == "csv" else spark.read.json(files)
        )
        df = reader.cache()
        rows += df.count()
        df.write.mode("overwrite").parquet(str(out / feed.name))
        df.unpersist()
    return time.monotonic() - t0, rows


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scale", type=float, default=0.05)
    p.add_argument("--days", type=int, default=30)
    args = p.parse_args()
    override_settings(bronze_db=BENCH_DB)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("landing").setLevel(logging.INFO)  # the loader's phase timings

    from core.session import get_spark
    from simulator.generator.cli import generate
    from simulator.generator.config import DefectRates, GeneratorConfig
    from spark_jobs.landing.feeds import file_feeds
    from spark_jobs.landing.loader import run
    from spark_jobs.landing.tables import ensure_tables

    work = Path(tempfile.mkdtemp(prefix="bench-landing-"))
    root, plain_out = work / "landing", work / "plain"
    try:
        print(f"[1/4] generating the file feeds at scale {args.scale} into {root}")
        defects = DefectRates(truncated_gzip_files=0, empty_files=0)
        truth = generate(GeneratorConfig(scale=args.scale, days=args.days, defects=defects), root, load_db=False)
        spark = get_spark("bench-landing")
        spark.sql(f"drop database if exists {BENCH_DB} cascade")

        for feed in file_feeds():  # table creation is set-up, not loading
            ensure_tables(spark, feed)
        print("[2/4] the loader into bronze Delta")
        t0 = time.monotonic()
        results = run(root=str(root), spark=spark)
        loader_s = time.monotonic() - t0
        rows = sum(r.total("read") for r in results)
        for r in results:
            print("      " + r.summary())

        print("[3/4] plain Spark read of the same files, written as Parquet (twice: the faster run counts, so a")
        print("      cold JVM does not flatter the loader)")
        plain_s, plain_rows = min(_plain(spark, root, plain_out, file_feeds()) for _ in range(2))

        print("[4/4] rerun of the loader (nothing new)")
        t0 = time.monotonic()
        again = run(root=str(root), spark=spark)
        rerun_s = time.monotonic() - t0
        assert all(not r.files for r in again)

        ratio = (rows / loader_s) / (plain_rows / plain_s)
        print("\nLanding benchmark")
        print(
            f"  files and rows           {sum(len(r.files) for r in results)} files, {rows:,} rows "
            f"({truth.rows['app.events']:,} events, {truth.rows['network.cell_kpis']:,} KPI rows)"
        )
        print(f"  loader into bronze Delta {rows / loader_s:>10,.0f} rows/s  ({loader_s:.1f}s)")
        print(
            f"  plain Spark -> Parquet   {plain_rows / plain_s:>10,.0f} rows/s  ({plain_s:.1f}s, {plain_rows:,} rows)"
        )
        print(f"  ratio                    {ratio:.2f} (target >= 0.8)")
        print(f"  rerun, nothing new       {rerun_s:.1f}s")
        spark.sql(f"drop database if exists {BENCH_DB} cascade")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
