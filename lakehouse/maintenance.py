"""Maintenance by hand: what the ``lakehouse_maintenance`` DAG runs, in one command.

``python -m lakehouse.maintenance [--retention-hours 168] [--tables-only]``

Compacts and vacuums the lakehouse's Delta tables (``spark_jobs/maintenance.py``), deletes old
Airflow logs and old Great Expectations validations (each suite keeps its newest ones whatever
their age), records every action's files and bytes before and after in ``ops.maintenance``,
prints them, and exits 1 if any action failed (after doing all the others).
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import UTC, datetime

from core.session import shared_spark
from core.settings import get_settings
from expectations import docs
from spark_jobs import maintenance as m


def prune_gx_history(run_id: str, days: int | None = None, keep: int | None = None) -> m.Outcome:
    s = get_settings()
    days = s.gx_history_retention_days if days is None else days
    keep = s.gx_history_keep_runs if keep is None else keep
    roots = docs.history_roots()
    return m.measured_prune(
        run_id, "gx_history", roots, lambda: docs.prune_history(keep=keep, roots=roots, older_than=m.ago(days=days))
    )


def run(run_id: str, retention_hours: int | None = None, tables_only: bool = False) -> list[m.Outcome]:
    m.check_retention(get_settings().vacuum_retention_hours if retention_hours is None else retention_hours)
    outcomes = [] if tables_only else [m.prune_airflow_logs(run_id), prune_gx_history(run_id)]
    with shared_spark("lakehouse-maintenance") as spark:
        m.record(spark, outcomes)

        def done(table_outcomes: list[m.Outcome]) -> None:
            for o in table_outcomes:
                print(o.summary(), flush=True)
            m.record(spark, table_outcomes)  # as it goes: an interrupted run keeps what it did

        outcomes += m.maintain_tables(spark, run_id, retention_hours=retention_hours, after_table=done)
    return outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--retention-hours", type=int, help="VACUUM retention (default LAKEHOUSE_VACUUM_RETENTION_HOURS)"
    )
    parser.add_argument("--tables-only", action="store_true", help="leave Airflow logs and GX history alone")
    parser.add_argument("--run-id", default=f"manual__{datetime.now(UTC):%Y-%m-%dT%H:%M:%S}")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    try:
        outcomes = run(args.run_id, args.retention_hours, args.tables_only)
    except m.RetentionTooShort as e:
        print(f"maintenance: {e}", file=sys.stderr)
        return 2
    print(m.summary_table(outcomes))
    print(f"maintenance: run {args.run_id}, {len(outcomes)} actions recorded in {m.OPS_TABLE}")
    return 1 if any(o.failed for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
