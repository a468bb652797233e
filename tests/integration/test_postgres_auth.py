"""PostgreSQL authenticates every login (SCRAM, no trust) and each component's role can do only
its own part: the sources' owner writes them, Debezium and the pipeline read them, the metastore
and Airflow reach only their databases, and no role is a superuser."""

from __future__ import annotations

import psycopg2
import pytest

from core import pg_roles
from core.settings import get_settings

pytestmark = pytest.mark.integration
S = get_settings()


def _connect(database: str, user: str, password: str | None):
    kwargs = {"host": S.pg_host, "port": S.pg_port, "dbname": database, "user": user}
    if password is not None:
        kwargs["password"] = password
    return psycopg2.connect(**kwargs, connect_timeout=5)


def _run(database: str, role: str, statement: str):
    with psycopg2.connect(pg_roles.dsn(database, role)) as conn, conn.cursor() as cur:
        cur.execute(statement)
        return cur.fetchall() if cur.description else cur.rowcount


@pytest.mark.parametrize("user", ["generator", "postgres", "lakehouse"])
@pytest.mark.parametrize("password", [None, "", "wrong", "lakehouse"])
def test_a_wrong_or_missing_password_is_refused(user, password):
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed|no password supplied"):
        _connect("crm", user, password)


def test_another_roles_password_is_refused():
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        _connect("crm", "generator", pg_roles.password("pipeline"))


def test_the_cluster_has_no_trust_line_and_no_superuser_login_but_its_owner():
    rows = _run("postgres", "pipeline", "select rolname from pg_roles where rolsuper and rolcanlogin")
    assert rows == [("postgres",)]
    # pg_hba_file_rules is for superusers only: read the file the server loaded
    hba = (S.home / "data" / "postgres" / "pg_hba.conf").read_text()
    rules = [line.split("#")[0].split() for line in hba.splitlines() if line.split("#")[0].strip()]
    methods = {next(w for w in rule if w in {"trust", "peer", "scram-sha-256", "md5", "password"}) for rule in rules}
    assert methods == {"peer", "scram-sha-256"}, rules
    assert all(rule[0] == "host" or rule[2] == "postgres" for rule in rules), rules


@pytest.mark.parametrize(
    ("role", "statement"),
    [
        ("debezium", "insert into customers (customer_id) values (-1)"),
        ("debezium", "create table t_debezium (n int)"),
        ("pipeline", "update customers set city = 'x' where customer_id = -1"),
        ("pipeline", "delete from customers where customer_id = -1"),
        ("pipeline", "create table t_pipeline (n int)"),
        ("generator", "create role intruder login superuser"),
        ("generator", "select pg_read_file('pg_hba.conf')"),
    ],
)
def test_a_role_cannot_do_what_is_not_its_part(role, statement):
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        _run("crm", role, statement)


@pytest.mark.parametrize(
    ("role", "database"), [("metastore", "crm"), ("airflow", "metastore"), ("debezium", "airflow")]
)
def test_a_role_cannot_open_another_components_database(role, database):
    with pytest.raises(psycopg2.OperationalError, match="permission denied for database"):
        psycopg2.connect(pg_roles.dsn(database, role))


def test_each_role_does_its_own_part():
    assert _run("crm", "debezium", "select count(*) >= 0 from customers") == [(True,)]
    assert _run("crm", "pipeline", "select count(*) >= 0 from debezium_signal") == [(True,)]
    # the fence's touch: a no-op update of the sentinel's key, and nothing else
    assert _run("crm", "pipeline", "update customers set customer_id = customer_id where false") == 0
    assert _run("crm", "generator", "select current_user") == [("generator",)]
    assert _run("metastore", "metastore", 'select count(*) from "VERSION"') == [(1,)]
    rows = _run("postgres", "pipeline", "select rolname, rolreplication from pg_roles where rolname like 'debezium'")
    assert rows == [("debezium", True)]
