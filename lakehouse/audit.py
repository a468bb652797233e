"""The audit, as the governance committee queries it (serving endpoint, login ``governance``; an
analyst is refused the ``audit`` database):

- ``audit.sql_statements``: every statement either SQL endpoint ran: endpoint, login, start and
  end, the SHA-256 of its text (never the text: it carries literals), the tables and views it
  read, the error class if it failed. Written by the endpoints' JVMs (infra/jvm/lakehouse/src/
  lakehouse/audit) as JSON lines under ``<logs>/audit/``, merged here by statement id.
- ``audit.airflow_events``: Airflow's own audit log (who triggered, paused, cleared or changed
  which DAG, and when), from its REST API, merged by event id.
- ``audit.erasure_requests``: written by ``lakehouse.erase``.

``python -m lakehouse.audit`` collects both once; the capture service does it every minute.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

from core.airflow_client import AirflowClient
from core.settings import get_settings
from core.sql import thrift_query
from spark_jobs.erasure import AUDIT_DB

DB = AUDIT_DB
SQL_TABLE = f"{DB}.sql_statements"
AIRFLOW_TABLE = f"{DB}.airflow_events"
_SQL_COLUMNS = (
    "endpoint string, statement_id string, session_id string, user_name string, started_at timestamp, "
    "finished_at timestamp, statement_sha256 string, tables_read array<string>, error string"
)
_AIRFLOW_COLUMNS = (
    "event_log_id bigint, event_at timestamp, event string, owner string, dag_id string, task_id string, "
    "run_id string, extra string"
)


def sql_log_dir() -> Path:
    return Path(get_settings().log_dir) / "audit"


@functools.cache
def ensure_tables() -> None:
    """Once per process (the capture service collects every minute)."""
    thrift_query(f"create database if not exists {DB}")
    thrift_query(f"create table if not exists {SQL_TABLE} ({_SQL_COLUMNS}) using delta")
    thrift_query(f"create table if not exists {AIRFLOW_TABLE} ({_AIRFLOW_COLUMNS}) using delta")


def collect_sql() -> int:
    """Merge the endpoints' statement lines; how many rows the table has after."""
    if any(sql_log_dir().glob("sql-*.jsonl")):
        thrift_query(
            f"merge into {SQL_TABLE} t using (select endpoint, statement_id, session_id, user_name, "
            "cast(started_at as timestamp) as started_at, cast(finished_at as timestamp) as finished_at, "
            "statement_sha256, tables_read, error "
            f"from json.`{sql_log_dir()}/sql-*.jsonl`) s "
            "on t.endpoint = s.endpoint and t.statement_id = s.statement_id when not matched then insert *"
        )
    return int(thrift_query(f"select count(*) from {SQL_TABLE}")[0][0])


def _literal(value) -> str:
    if value is None:
        return "null"
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def collect_airflow(client: AirflowClient | None = None, page: int = 100) -> int:
    """Merge Airflow's audit log events newer than the newest one held; how many were new."""
    client = client or AirflowClient.from_settings()
    newest = thrift_query(f"select coalesce(max(event_log_id), 0) from {AIRFLOW_TABLE}")[0][0]
    new: list[dict] = []
    offset = 0
    while True:  # newest first, until the ones already held
        events = client.event_logs(limit=page, offset=offset)
        new += [e for e in events if e["event_log_id"] > newest]
        if len(events) < page or events[-1]["event_log_id"] <= newest:
            break
        offset += page
    if new:
        values = ", ".join(
            "("
            + ", ".join(
                [
                    str(int(e["event_log_id"])),
                    f"cast({_literal(e.get('when'))} as timestamp)",
                    _literal(e.get("event")),
                    _literal(e.get("owner")),
                    _literal(e.get("dag_id")),
                    _literal(e.get("task_id")),
                    _literal(e.get("run_id")),
                    _literal(json.dumps(e["extra"]) if isinstance(e.get("extra"), dict) else e.get("extra")),
                ]
            )
            + ")"
            for e in new
        )
        thrift_query(
            f"merge into {AIRFLOW_TABLE} t using (select * from values {values} as "
            "s(event_log_id, event_at, event, owner, dag_id, task_id, run_id, extra)) s "
            "on t.event_log_id = s.event_log_id when not matched then insert *"
        )
    return len(new)


def collect() -> tuple[int, int]:
    ensure_tables()
    return collect_sql(), collect_airflow()


if __name__ == "__main__":
    statements, events = collect()
    print(f"audit: {SQL_TABLE} {statements:,} statements; {AIRFLOW_TABLE} +{events} events")
    sys.exit(0)
