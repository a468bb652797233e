"""BI clients log in and browse the catalog as a BI tool does: SQLAlchemy's ``hive+spark://``
dialect (what Superset uses) lists schemas, tables, views and columns with their comments, and
queries as ``analyst``; a wrong password is refused."""

from __future__ import annotations

import urllib.parse
import uuid

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import DBAPIError
from thrift.transport.TTransport import TTransportException

from core import directory
from core.settings import get_settings
from core.sql import thrift_query

pytestmark = pytest.mark.integration
S = get_settings()


def _engine(user: str, password: str):
    # the serving endpoint: where analysts and BI tools log in
    url = f"hive+spark://{user}:{urllib.parse.quote(password, safe='')}@{S.bind_host}:{S.serving_port}/gold?auth=LDAP"
    return create_engine(url)


@pytest.fixture(scope="module")
def probe():
    """A gold table and view of their own, with comments, made by the pipeline's login."""
    name = f"bi_probe_{uuid.uuid4().hex[:8]}"
    thrift_query("create database if not exists gold")
    thrift_query(
        f"create table gold.{name} (user_key string comment 'the user token', n bigint comment 'how many', "
        f"day date) using delta partitioned by (day) comment 'a probe for BI clients'"
    )
    thrift_query(f"insert into gold.{name} values ('u1', 1, date'2026-01-01'), ('u2', 2, date'2026-01-02')")
    thrift_query(f"create or replace view gold.{name}_v as select user_key, n from gold.{name}")
    yield name
    thrift_query(f"drop view if exists gold.{name}_v")
    thrift_query(f"drop table if exists gold.{name}")


def test_sqlalchemy_lists_gold_as_a_bi_tool_sees_it(probe):
    engine = _engine("analyst", directory.password("analyst"))
    try:
        inspector = inspect(engine)
        assert "gold" in inspector.get_schema_names()
        tables = inspector.get_table_names(schema="gold")
        assert probe in tables and "gold" not in tables
        assert f"{probe}_v" in inspector.get_view_names(schema="gold") and f"{probe}_v" not in tables
        columns = inspector.get_columns(probe, schema="gold")
        assert [(c["name"], c["comment"]) for c in columns] == [
            ("user_key", "the user token"),
            ("n", "how many"),
            ("day", None),
        ]
        assert inspector.get_table_comment(probe, schema="gold")["text"] == "a probe for BI clients"
        with engine.connect() as conn:
            assert conn.execute(text(f"select sum(n) from gold.{probe}")).scalar() == 3
    finally:
        engine.dispose()


def test_sqlalchemy_with_a_wrong_password_is_refused():
    engine = _engine("analyst", "wrong")
    try:
        # PyHive raises the transport's error as it is (SQLAlchemy wraps DB-API errors only)
        with pytest.raises((DBAPIError, TTransportException), match="Error validating the login"), engine.connect():
            pass
    finally:
        engine.dispose()
