"""Maintenance's pure logic: the retention floor, which tables are compacted, conflict retries,
and pruning of old logs and GX history on a folder."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta

import pytest

from core.settings import override_settings
from expectations import docs
from spark_jobs import maintenance as m

CONFLICT = (
    "[DELTA_CONCURRENT_DELETE_READ] ConcurrentDeleteReadException: This transaction attempted to read one or "
    "more files that were deleted (for example part-00000.snappy.parquet) by a concurrent update."
)


def test_retention_under_seven_days_is_refused_before_any_work():
    assert m.check_retention(168) == 168
    with pytest.raises(m.RetentionTooShort, match="at least 168"):
        m.check_retention(167)
    with pytest.raises(m.RetentionTooShort):
        m.vacuum(None, "bronze.t", "run", 24)  # refused before the session is touched


def test_retention_setting_defaults_to_seven_days_and_is_read_from_the_environment(monkeypatch):
    monkeypatch.delenv("LAKEHOUSE_VACUUM_RETENTION_HOURS", raising=False)
    from core.settings import get_settings

    assert get_settings().vacuum_retention_hours == 168
    assert override_settings(vacuum_retention_hours=336).vacuum_retention_hours == 336
    monkeypatch.delenv("LAKEHOUSE_VACUUM_RETENTION_HOURS")


def test_delta_intervals_read_as_hours():
    assert m.interval_hours(None) == 168  # Delta's default: a week
    assert m.interval_hours("interval 1 week") == m.interval_hours("interval 168 hours") == 168
    assert m.interval_hours("interval 2 weeks") == m.interval_hours("14 days") == 336
    assert m.interval_hours("interval 1 day 12 hours") == 36
    with pytest.raises(ValueError, match="not a Delta interval"):
        m.interval_hours("forever")


def test_plan_compacts_appended_tables_and_only_incremental_dbt_models():
    targets = {
        t.table: t
        for t in m.plan(
            {
                "bronze": ["crm_customers_changes", "crm_customers", "app_events", "cdc_dead_letters"],
                "ops": ["cdc_batches"],
                "quality": ["validation_results"],
                "gold": ["fct_orders", "dim_user"],
                "silver": ["snap_user_profile", "int_users"],
            },
            incremental={"fct_orders", "snap_user_profile"},
        )
    }
    compacted = {name for name, t in targets.items() if t.optimize}
    assert compacted == {
        "bronze.crm_customers_changes",
        "bronze.crm_customers",
        "bronze.app_events",
        "bronze.cdc_dead_letters",
        "ops.cdc_batches",
        "quality.validation_results",
        "gold.fct_orders",
        "silver.snap_user_profile",
    }
    assert all(t.vacuum for t in targets.values()) and len(targets) == 10


def test_incremental_models_are_read_from_the_dbt_project():
    assert m.incremental_models() == {
        "fct_orders_merged",
        "fct_service_tickets",
        "fct_cell_kpi_hourly",
        "fct_app_activity_daily",
        "snap_user_profile",
        # the daily schedule's history, a partition a day
        "dim_user_history",
        "fct_user_segments_history",
        "fct_segment_sizes_history",
        "fct_operations_kpis_history",
        "fct_operations_kpis_monthly",
        "campaign_lists",
    }


def test_a_write_conflict_is_retried_and_anything_else_is_not():
    calls, sleeps = [], []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise RuntimeError(CONFLICT)
        return "done"

    assert m.with_retries(flaky, attempts=3, wait_s=1, sleep=sleeps.append) == "done"
    assert len(calls) == 3 and sleeps == [1, 2]

    def always():
        calls.append(1)
        raise RuntimeError(CONFLICT)

    calls.clear()
    with pytest.raises(RuntimeError, match="DELTA_CONCURRENT"):
        m.with_retries(always, attempts=3, wait_s=0, sleep=sleeps.append)
    assert len(calls) == 3

    def broken():
        calls.append(1)
        raise RuntimeError("[TABLE_OR_VIEW_NOT_FOUND] The table or view `bronze`.`x` cannot be found.")

    calls.clear()
    with pytest.raises(RuntimeError, match="TABLE_OR_VIEW_NOT_FOUND"):
        m.with_retries(broken, attempts=3, wait_s=0, sleep=sleeps.append)
    assert len(calls) == 1
    assert m.is_conflict("io.delta.exceptions.ConcurrentAppendException: Files were added")
    assert not m.is_conflict("Concurrency limit reached")


class _CreatingElsewhere:
    """A session whose ``create table`` meets another creator's half-made table: it fails while
    the table is not yet in the catalog, which it is after ``appears_after`` looks."""

    def __init__(self, appears_after: int | None):
        self.appears_after, self.looks, self.creates = appears_after, 0, 0
        self.catalog = self

    def sql(self, _statement: str) -> None:
        self.creates += 1
        raise RuntimeError("[DELTA_CREATE_TABLE_WITH_NON_EMPTY_LOCATION] Cannot create table")

    def tableExists(self, _table: str) -> bool:
        self.looks += 1
        return self.appears_after is not None and self.looks >= self.appears_after


def test_a_table_created_at_the_same_moment_elsewhere_is_waited_for(monkeypatch):
    monkeypatch.setattr(m.time, "sleep", lambda _s: None)
    session = _CreatingElsewhere(appears_after=3)
    m._create_shared(session, "ops.t", "a int")
    assert session.creates == 3

    never = _CreatingElsewhere(appears_after=None)
    with pytest.raises(RuntimeError, match="NON_EMPTY_LOCATION"):
        m._create_shared(never, "ops.t", "a int", attempts=4)
    assert never.creates == 4


def _touch(path, days_old: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("log line\n" * 10)
    t = time.time() - days_old * 86400
    os.utime(path, (t, t))


def test_log_pruning_deletes_old_files_and_the_folders_it_empties(tmp_path):
    logs = tmp_path / "airflow"
    old_run = logs / "dag_id=x" / "run_id=old" / "task_id=a"
    new_run = logs / "dag_id=x" / "run_id=new" / "task_id=a"
    _touch(old_run / "attempt=1.log", 40)
    _touch(old_run / "attempt=2.log", 31)
    _touch(new_run / "attempt=1.log", 29)
    _touch(logs / "dag_id=x" / "run_id=mixed" / "attempt=1.log", 45)
    _touch(logs / "dag_id=x" / "run_id=mixed" / "attempt=2.log", 1)

    out = m.prune_airflow_logs("run", days=30, roots=[logs, tmp_path / "absent"])

    left = sorted(str(p.relative_to(logs)) for p in logs.rglob("*.log"))
    assert left == ["dag_id=x/run_id=mixed/attempt=2.log", "dag_id=x/run_id=new/task_id=a/attempt=1.log"]
    assert not (logs / "dag_id=x" / "run_id=old").exists()
    assert (out.action, out.status, out.before.files, out.after.files) == ("prune", "ok", 5, 2)
    assert out.before.bytes == 5 * len("log line\n" * 10)


def test_gx_history_pruning_keeps_the_newest_runs_and_anything_younger_than_the_cutoff(tmp_path):
    root = tmp_path / "validations"
    now = datetime.now(UTC)
    for days in (60, 50, 40, 20, 10, 1):
        ts = (now - timedelta(days=days)).strftime("%Y%m%dT%H%M%S.%fZ")
        (root / "a__suite" / f"run-{days}" / ts).mkdir(parents=True)
    removed = docs.prune_history(keep=2, roots=[root], older_than=now - timedelta(days=30))
    assert removed == 3
    assert sorted(p.name for p in (root / "a__suite").iterdir()) == ["run-1", "run-10", "run-20"]
    # the newest ``keep`` stay however old
    assert docs.prune_history(keep=2, roots=[root], older_than=now) == 1


def test_summary_names_every_action_and_each_failure():
    ok = m.Outcome("r", "bronze.t", "optimize", before=m.Measure(6, 6 << 20), after=m.Measure(1, 5 << 20))
    ok.disk_before, ok.disk_after = m.Measure(6, 6 << 20), m.Measure(7, 11 << 20)
    bad = m.Outcome("r", "gold.f", "vacuum", status="failed", error="boom")
    text = m.summary_table([ok, bad])
    assert "bronze.t  optimize  ok" in text and "6 -> 1" in text and "6.0 -> 5.0" in text and "6 -> 7" in text
    assert text.splitlines()[-1] == "FAILED gold.f vacuum: boom"
    assert ok.row()[4:8] == (6, 1, 6 << 20, 5 << 20)
    with pytest.raises(m.MaintenanceFailed, match="gold.f vacuum: boom"):
        m.raise_if_failed([ok, bad])


def test_vacuum_runs_only_where_a_data_file_is_older_than_the_retention(tmp_path):
    table = tmp_path / "t"
    _touch(table / "_delta_log" / "00000000000000000000.json", 30)  # the log is not VACUUM's
    _touch(table / ".part-0.parquet.crc", 30)  # nor are hidden files
    _touch(table / "day=2026-11-01" / "part-0.parquet", 6)
    location = f"file:{table}"
    assert not m.vacuum_can_delete(location, 168)
    assert m.disk_measure(location).files == 1
    _touch(table / "day=2026-11-01" / "part-1.parquet", 8)
    assert m.vacuum_can_delete(location, 168) and not m.vacuum_can_delete(location, 240)
    assert m.disk_measure(location).files == 2


def test_select_keeps_the_tables_the_globs_name_and_refuses_a_glob_that_matches_nothing():
    targets = [m.Target(t, optimize=True) for t in ("gold.fct_orders", "gold.dim_user", "bronze.crm_customers")]
    assert m.select(targets, "") == targets and m.select(targets, None) == targets
    assert [t.table for t in m.select(targets, "gold.fct_*, bronze.*")] == ["gold.fct_orders", "bronze.crm_customers"]
    with pytest.raises(ValueError, match="gold.fct_order$"):
        m.select(targets, "gold.fct_order")
