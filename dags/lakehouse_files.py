"""
### Landing-zone files into bronze, every five minutes

Each run loads the files of its data interval: every new file of every feed (network cells and
hourly cell KPIs, app events) modified before the interval's end, each file once; bad rows are
quarantined, broken files marked failed, a file that could not be read stays pending and is
read again by the next run; every row is accounted for in `bronze.landing_files`. A late or
re-run interval loads only what it has not loaded (the manifest); a run triggered without a
logical date (the API, the CLI) has no interval and loads every new file.

1. **load_files**: the loader, one Spark session for every feed.
2. **landed_<feed>**: one per feed, with the feed's bronze table as its outlet asset; skipped
   when the run landed nothing in that table, so `lakehouse_refresh` runs for new data only.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from airflow.sdk import dag, get_current_context, task
from airflow.timetables.interval import DeltaDataIntervalTimetable

from core.assets import bronze_asset
from core.dag_defaults import dag_args
from schemas.contracts import load_contracts

log = logging.getLogger(__name__)  # the task log, in order (stdout is a pipe read apart)
FEEDS = {c.qualified_name: f"{c.source}_{c.name}" for c in load_contracts() if not c.is_database_table}


@dag(
    dag_id="lakehouse_files",
    schedule=DeltaDataIntervalTimetable(timedelta(minutes=5)),  # a run per interval, not a bare trigger
    tags=["lakehouse", "files", "bronze"],
    **dag_args(__doc__, timedelta(seconds=30)),
)
def lakehouse_files():
    @task
    def load_files() -> dict:
        from spark_jobs.landing.loader import run

        # a run triggered without a logical date has no interval: it loads every new file
        results = run(arrived_before=get_current_context().get("data_interval_end"))
        for r in results:
            log.info(r.summary())
        return {r.feed: {"files": len(r.files), "landed": r.total("landed")} for r in results}

    @task
    def landed(loaded: dict, feed: str) -> int:
        from airflow.exceptions import AirflowSkipException

        rows = loaded.get(feed, {}).get("landed", 0)
        if not rows:
            raise AirflowSkipException(f"no new rows in {feed}")
        return rows

    loaded = load_files()
    for feed, table in FEEDS.items():
        landed.override(task_id=f"landed_{table}", outlets=[bronze_asset(table)])(loaded, feed)


lakehouse_files()
