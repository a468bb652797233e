"""Files per table across pipeline runs, with maintenance after each: bounded, not growing.

``python benchmarks/bench_maintenance.py [--rounds 10] [--changes 500] [--scale 0.0005]``

Each round is a small pipeline run into a scratch bronze database (``bronze_maint_bench``): the
OLTP workload makes ``--changes`` changes, the CDC consumer lands them and the current state is
MERGEd; new landing files (three days of network KPIs and app events, a new seed each round)
are generated and loaded; then the maintenance compacts and vacuums the scratch tables. Prints
each table's files in its current snapshot after the loads and after the maintenance, round by
round, and at the end the most any table held after maintenance against what it would hold
without (every file the loads added).
Files on disk are not bounded by a run of minutes: VACUUM keeps replaced files for the
retention (7 days), so they go a week later. Needs the running stack (``make run`` once).
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

BENCH_DB = "bronze_maint_bench"


def _files(spark, tables: list[str]) -> dict[str, int]:
    from spark_jobs import maintenance as m

    return {t: m.snapshot_measure(spark, t)[0].files for t in tables}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--changes", type=int, default=500)
    p.add_argument("--scale", type=float, default=0.0005)
    args = p.parse_args()
    override_settings(bronze_db=BENCH_DB)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")

    from core.session import get_spark
    from simulator.generator.cli import generate
    from simulator.generator.config import GeneratorConfig
    from simulator.workload import Workload
    from spark_jobs import maintenance as m
    from spark_jobs.cdc import current_state
    from spark_jobs.cdc.consumer import ConsumerConfig
    from spark_jobs.cdc.consumer import run as consume
    from spark_jobs.cdc.fence import wait_for_sources
    from spark_jobs.landing import loader

    spark = get_spark("bench-maintenance")
    spark.sql(f"drop database if exists {BENCH_DB} cascade")
    work = Path(tempfile.mkdtemp(prefix="bench-maintenance-"))
    added: dict[str, int] = {}  # files the loads added, summed over the rounds
    most: dict[str, int] = {}  # the most files a table held after maintenance
    last_after: dict[str, int] = {}
    seconds: list[float] = []
    try:
        for r in range(1, args.rounds + 1):
            t0 = time.monotonic()
            w = Workload(seed=1000 + r)
            w.run(rate=1e9, max_changes=args.changes)
            w.close()
            wait_for_sources()
            consume(ConsumerConfig(until_caught_up=True))  # the first round lands the topics' whole history
            current_state.run(spark)
            root = work / f"round-{r}"
            generate(GeneratorConfig(scale=args.scale, seed=r, days=3), root, load_db=False, show_progress=False)
            loader.run(root=str(root), spark=spark)
            load_s = time.monotonic() - t0

            targets = [t for t in m.discover(spark, incremental=set()) if t.table.startswith(f"{BENCH_DB}.")]
            tables = [t.table for t in targets]
            before = _files(spark, tables)
            t1 = time.monotonic()
            outcomes = m.maintain_tables(spark, f"bench-{r}", targets=targets)
            seconds.append(time.monotonic() - t1)
            after = _files(spark, tables)
            failed = [o for o in outcomes if o.failed]
            for t in tables:
                added[t] = added.get(t, 0) + before[t] - last_after.get(t, 0)
                most[t] = max(most.get(t, 0), after[t])
            last_after = after
            print(
                f"round {r:>2}: loads {load_s:.0f}s, maintenance {seconds[-1]:.0f}s, "
                f"{len(failed)} failed{': ' + '; '.join(f'{o.target} {o.error}' for o in failed) if failed else ''}"
            )
            width = max(len(t) for t in tables)
            for t in tables:
                print(f"  {t.removeprefix(BENCH_DB + '.'):<{width}}  {before[t]:>4} -> {after[t]:>4} files")

        print(f"\nMaintenance benchmark: {args.rounds} rounds of {args.changes} changes and new landing files")
        print(f"  {'table':<40} {'most after maintenance':>24} {'without maintenance':>20}")
        for t in sorted(most):
            print(f"  {t.removeprefix(BENCH_DB + '.'):<40} {most[t]:>24} {added[t]:>20}")
        print(f"  maintenance per round: {min(seconds):.0f}-{max(seconds):.0f}s")
        spark.sql(f"drop database if exists {BENCH_DB} cascade")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
