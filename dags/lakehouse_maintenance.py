"""
### Lakehouse maintenance: bounded files, bounded logs

Daily over every table, and by hand (e.g. after a large backfill) over every table or those the
`tables` parameter names:

1. **maintain_tables**: Delta `OPTIMIZE` where small files accumulate (bronze change logs,
   dead letters, current state and landing tables; `ops` and quality tables; incremental gold
   facts and the profile snapshot), then `VACUUM` of every lakehouse Delta table with a
   retention of `LAKEHOUSE_VACUUM_RETENTION_HOURS` (at least 7 days: time travel and the
   longest reader keep working). A compaction that meets a concurrent MERGE is retried; a table
   that still fails is recorded and the others go on; the task fails at the end if any did.
2. **prune_airflow_logs**: Airflow task logs older than `LAKEHOUSE_AIRFLOW_LOG_RETENTION_DAYS`.
3. **prune_gx_history**: stored Great Expectations validations and their Data Docs pages older
   than `LAKEHOUSE_GX_HISTORY_RETENTION_DAYS`, each suite keeping its newest
   `LAKEHOUSE_GX_HISTORY_KEEP_RUNS` (`quality.validation_results` keeps every run).

Every action's files and bytes before and after (the table's snapshot and its files on disk)
go to `ops.maintenance`. Safe beside `lakehouse_build`: appends never conflict with a
compaction, and VACUUM leaves every file younger than the retention. Rerunning is safe: a
compacted table has nothing left to compact, and a retried run replaces its rows.
`python -m lakehouse.maintenance` runs the same by hand.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from airflow.sdk import Param, dag, get_current_context, task

from core.dag_defaults import dag_args

log = logging.getLogger(__name__)  # the task log, in order (stdout is a pipe read apart)


def _record(outcomes: list) -> dict:
    """Record the outcomes in ops.maintenance, print them, fail the task if any action failed."""
    from core.session import shared_spark
    from spark_jobs import maintenance as m

    with shared_spark("lakehouse-maintenance") as spark:
        m.record(spark, outcomes)
    log.info(m.summary_table(outcomes))
    m.raise_if_failed(outcomes)
    return {f"{o.target} {o.action}": o.status for o in outcomes}


@dag(
    dag_id="lakehouse_maintenance",
    schedule="@daily",
    tags=["lakehouse", "maintenance", "delta"],
    **dag_args(__doc__, timedelta(minutes=5)),
    params={
        "tables": Param(
            None,
            type=["null", "string"],
            title="Tables",
            description="Comma-separated globs of the tables to maintain (e.g. gold.fct_*); empty: every table.",
        )
    },
)
def lakehouse_maintenance():
    @task
    def maintain_tables() -> dict:
        from core.session import shared_spark
        from spark_jobs import maintenance as m

        context = get_current_context()
        run_id = context["run_id"]
        with shared_spark("lakehouse-maintenance") as spark:
            targets = m.select(m.discover(spark), context["params"]["tables"])

            def done(table_outcomes: list) -> None:
                for o in table_outcomes:
                    log.info(o.summary())
                m.record(spark, table_outcomes)  # as it goes: a killed task keeps what it did

            outcomes = m.maintain_tables(spark, run_id, targets=targets, after_table=done)
        log.info(m.summary_table(outcomes))
        m.raise_if_failed(outcomes)
        return {f"{o.target} {o.action}": o.status for o in outcomes}

    @task
    def prune_airflow_logs() -> dict:
        from spark_jobs import maintenance as m

        return _record([m.prune_airflow_logs(get_current_context()["run_id"])])

    @task
    def prune_gx_history() -> dict:
        from core.settings import get_settings
        from expectations import docs
        from spark_jobs import maintenance as m

        s, roots = get_settings(), docs.history_roots()
        older_than = m.ago(days=s.gx_history_retention_days)
        outcome = m.measured_prune(
            get_current_context()["run_id"],
            "gx_history",
            roots,
            lambda: docs.prune_history(keep=s.gx_history_keep_runs, roots=roots, older_than=older_than),
        )
        return _record([outcome])

    maintain_tables()
    prune_airflow_logs()
    prune_gx_history()


lakehouse_maintenance()
