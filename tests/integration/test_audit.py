"""The audit: every statement on either SQL endpoint (login, time, text hash, tables read, error
class) and every Airflow action (who triggered or paused which DAG) is queryable by
``governance``, and by no analyst; no statement's text is kept."""

from __future__ import annotations

import hashlib
import uuid

import pytest
from pyhive.exc import OperationalError

from core.airflow_client import AirflowClient
from core.sql import thrift_query
from lakehouse import audit

pytestmark = pytest.mark.integration
TAG = uuid.uuid4().hex[:8]
MARKER = f"literal{uuid.uuid4().hex[:12]}"  # in the statements' text only
PROBES = {"gold": f"gold.audit_probe_{TAG}", "silver": f"silver.audit_probe_{TAG}"}
STATEMENTS = {
    "analyst": f"select count(*), '{MARKER}' from {PROBES['gold']}",
    "pipeline": f"select count(*), '{MARKER}' from {PROBES['silver']}",
}
FAILING = f"select '{MARKER}' from gold.no_such_{TAG}"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture(scope="module")
def collected():
    for layer, table in PROBES.items():
        thrift_query(f"create database if not exists {layer}")
        thrift_query(f"create table {table} using delta as select 1 as id")
    for user, statement in STATEMENTS.items():
        thrift_query(statement, user=user)
    with pytest.raises(OperationalError):
        thrift_query(FAILING, user="analyst")
    client = AirflowClient.from_settings()
    paused = client.dags()["lakehouse_maintenance"]
    client.set_paused("lakehouse_maintenance", not paused)
    client.set_paused("lakehouse_maintenance", paused)
    audit.collect()
    yield client
    for table in PROBES.values():
        thrift_query(f"drop table if exists {table}")


def test_each_statement_is_recorded_with_its_login_hash_and_tables(collected):
    hashes = {_sha(s): user for user, s in STATEMENTS.items()} | {_sha(FAILING): "analyst"}
    rows = thrift_query(
        "select endpoint, user_name, statement_sha256, cast(tables_read as string), error "
        f"from {audit.SQL_TABLE} where statement_sha256 in ({', '.join(repr(h) for h in hashes)})",
        user="governance",
    )
    got = {r[2]: r for r in rows}
    assert set(got) == set(hashes)
    analyst, pipeline, failed = got[_sha(STATEMENTS["analyst"])], got[_sha(STATEMENTS["pipeline"])], got[_sha(FAILING)]
    assert analyst[:2] == ("serving", "analyst") and PROBES["gold"] in analyst[3] and analyst[4] is None
    assert pipeline[:2] == ("thrift", "pipeline") and PROBES["silver"] in pipeline[3]
    assert failed[1] == "analyst" and failed[4] == "TABLE_OR_VIEW_NOT_FOUND"


def test_no_statement_text_is_kept(collected):
    for path in audit.sql_log_dir().glob("sql-*.jsonl"):
        assert MARKER not in path.read_text()
        assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_airflow_actions_are_recorded_with_who_did_them(collected):
    rows = thrift_query(
        f"select event, owner from {audit.AIRFLOW_TABLE} where dag_id = 'lakehouse_maintenance' "
        "order by event_log_id desc limit 20",
        user="governance",
    )
    assert any(owner == "admin" for _, owner in rows), rows


@pytest.mark.parametrize("statement", [f"select * from {audit.SQL_TABLE}", "show tables in audit"])
def test_an_analyst_is_refused_the_audit(statement):
    with pytest.raises(OperationalError, match="Permission denied"):
        thrift_query(statement, user="analyst")
