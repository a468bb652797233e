"""What the always-on stack watches besides the capture's lag, once a minute from the capture
service: gold's freshness against its target, and rows set aside (CDC dead letters, quarantined
file rows and quality-gate rows) growing. ``Watch`` decides what to alert (pure, tested alone);
``measure`` reads the numbers through the Thrift server.

Gold's freshness is the age of the oldest current-state change ``gold.fct_orders_merged`` has
not taken in yet: the refresh merges the orders applied after its newest ``_applied_at``, so the
live orders applied after that are exactly the ones still to come (a deleted or quarantined
order never comes, and stops counting once a later order has been merged). The ``gold.fct_orders``
view shows them already, read from bronze; this measures how far the quality-gated table lags
(the view's own freshness is the capture's, alerted as its lag)."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.alerts import airflow_url


def set_aside_tables() -> dict[str, str]:
    from expectations.results import quarantine_table
    from spark_jobs.cdc.changes import dead_letter_table
    from spark_jobs.landing import tables

    return {
        "CDC dead letters": dead_letter_table(),
        "quarantined file rows": tables.quarantine_table(),
        "quality quarantine": quarantine_table(),
    }


def freshness_sql() -> str:
    """Age in seconds of the oldest live order applied in bronze and not yet in gold, and how many."""
    from expectations.validate import physical_table

    return (
        "select cast(unix_timestamp(current_timestamp()) - unix_timestamp(min(_applied_at)) as double), count(*) "
        f"from {physical_table('bronze', 'bss.orders')} where not _is_deleted and _applied_at > "
        f"(select coalesce(max(_applied_at), timestamp'1970-01-01') from {physical_table('gold', 'fct_orders_merged')})"
    )


@dataclass
class Reading:
    set_aside: dict[str, int]  # name -> rows so far (a table that does not exist yet is left out)
    gold_behind_s: float | None  # None: gold has every change, or it could not be read
    gold_pending: int = 0
    refresh_on: bool = True  # the lakehouse_refresh schedule; off, gold is not expected to follow


@dataclass
class Watch:
    """Alerts once when a condition starts and once when it ends, not every minute."""

    freshness_target_s: float
    seen: dict[str, int] = field(default_factory=dict)
    stale: bool = False

    def observe(self, r: Reading) -> list[tuple[str, dict]]:
        alerts: list[tuple[str, dict]] = []
        for name, rows in r.set_aside.items():
            before = self.seen.get(name)
            self.seen[name] = rows
            if before is not None and rows > before:
                alerts.append(
                    (
                        f"{name} grew by {rows - before:,} to {rows:,} rows",
                        {"check": "set_aside_growing", "what": name, "rows": rows, "new": rows - before},
                    )
                )
        stale = r.refresh_on and r.gold_behind_s is not None and r.gold_behind_s > self.freshness_target_s
        if stale != self.stale:
            self.stale = stale
            if stale:
                runs = airflow_url("dags", "lakehouse_refresh", "runs")
                alerts.append(
                    (
                        f"gold.fct_orders_merged is {r.gold_behind_s:.0f}s behind its sources "
                        f"({r.gold_pending:,} orders not through the gates yet; target "
                        f"{self.freshness_target_s:.0f}s): the refresh runs {runs}",
                        {
                            "check": "gold_freshness",
                            "behind_s": r.gold_behind_s,
                            "pending": r.gold_pending,
                            "url": runs,
                        },
                    )
                )
            else:
                alerts.append(
                    ("gold.fct_orders_merged is within its freshness target again", {"check": "gold_freshness"})
                )
        return alerts


def measure() -> Reading:
    """The numbers, through the Thrift server (each query on its own: a missing table is skipped)."""
    from core.airflow_client import AirflowClient, AirflowError
    from core.sql import thrift_query

    counts = {}
    for name, table in set_aside_tables().items():
        try:
            counts[name] = int(thrift_query(f"select count(*) from {table}")[0][0])
        except Exception as e:  # not created yet: nothing set aside so far
            if "TABLE_OR_VIEW_NOT_FOUND" not in str(e):
                raise
    behind, pending = None, 0
    try:
        behind, pending = thrift_query(freshness_sql())[0]
    except Exception as e:  # no full build yet: no gold to be fresh
        if "TABLE_OR_VIEW_NOT_FOUND" not in str(e):
            raise
    try:
        refresh_on = not AirflowClient.from_settings().dag("lakehouse_refresh")["is_paused"]
    except AirflowError:
        refresh_on = False  # Airflow down or the DAG not parsed: nothing is expected of gold
    return Reading(counts, behind, int(pending or 0), refresh_on)
