"""What every DAG of the lakehouse shares: its tasks' owner, retries and failure alert, and the
DAG's own start, catch-up, docs, one run at a time and failed-run alert."""

from __future__ import annotations

from datetime import datetime, timedelta

from core.alerts import dag_run_failed, task_failed

__all__ = ["dag_args", "dag_run_failed", "task_defaults"]


def task_defaults(retry_delay: timedelta) -> dict:
    """A DAG's ``default_args``; the DAG itself takes ``on_failure_callback=dag_run_failed``."""
    return {"owner": "data-platform", "retries": 2, "retry_delay": retry_delay, "on_failure_callback": task_failed}


def dag_args(doc_md: str | None, retry_delay: timedelta) -> dict:
    """The ``@dag`` arguments every lakehouse DAG takes (its id, schedule and tags are its own)."""
    return {
        "start_date": datetime(2026, 1, 1),
        "catchup": False,
        "doc_md": doc_md,
        "default_args": task_defaults(retry_delay),
        "on_failure_callback": dag_run_failed,
        "max_active_runs": 1,
    }
