"""Roles on the data, enforced by the servers: ``analyst`` and ``governance`` log in to the serving
endpoint only, where they read gold and the quality results (a gold view over lower layers too)
and nothing in bronze or silver nor the quarantine's raw rows, and write nothing anywhere;
``pipeline`` reads and writes every layer through its own endpoint. The PII functions run on the
serving endpoint only inside the pipeline's views: a reader cannot tokenise a phone of their
choosing (and so look a person up by number), and cannot decrypt at all."""

from __future__ import annotations

import uuid

import pytest
from pyhive.exc import OperationalError

from core import pii
from core.sql import thrift_query
from expectations import results

pytestmark = pytest.mark.integration
READERS = ("analyst", "governance")
TAG = uuid.uuid4().hex[:8]
T = {layer: f"{layer}.role_probe_{TAG}" for layer in ("bronze", "silver", "gold", "quality")}
VIEW = f"gold.role_probe_view_{TAG}"
PII_VIEW = f"gold.role_probe_pii_{TAG}"


@pytest.fixture(scope="module", autouse=True)
def probes():
    """A table of its own in every layer, and a gold view over the bronze one, made by the pipeline."""
    for layer, table in T.items():
        thrift_query(f"create database if not exists {layer}")
        thrift_query(f"create table {table} using delta as select 1 as id, '{layer}' as layer")
    thrift_query(f"create view {VIEW} as select g.id, b.layer from {T['gold']} g join {T['bronze']} b using (id)")
    thrift_query(f"create view {PII_VIEW} as select pii.token(layer) as token from {T['bronze']}")
    # the gates' quarantine, as the gates make it when they first run
    quarantine = results._ddl(results.QUARANTINE_SCHEMA)
    thrift_query(f"create table if not exists quality.quarantine ({quarantine}) using delta")
    yield
    thrift_query(f"drop view if exists {VIEW}")
    thrift_query(f"drop view if exists {PII_VIEW}")
    for table in T.values():
        thrift_query(f"drop table if exists {table}")


@pytest.mark.parametrize("user", READERS)
def test_a_reader_reads_gold_quality_and_a_gold_view_over_lower_layers(user):
    assert thrift_query(f"select id, layer from {T['gold']}", user=user) == [(1, "gold")]
    assert thrift_query(f"select id, layer from {T['quality']}", user=user) == [(1, "quality")]
    assert thrift_query(f"select id, layer from {VIEW}", user=user) == [(1, "bronze")]
    assert (T["gold"].split(".")[1],) in {(r[1],) for r in thrift_query("show tables in gold", user=user)}


@pytest.mark.parametrize("user", READERS)
def test_a_reader_gets_the_tokens_a_pipeline_view_computes_from_bronze(user):
    assert thrift_query(f"select token from {PII_VIEW}", user=user) == [(pii.token("bronze"),)]


@pytest.mark.parametrize("user", READERS)
def test_a_reader_cannot_decrypt(user):
    with pytest.raises(OperationalError, match="UNRESOLVED_ROUTINE"):
        thrift_query("select pii.decrypt('AAAA')", user=user)


REFUSED = {
    "select bronze": f"select * from {T['bronze']}",
    "select silver": f"select * from {T['silver']}",
    "subquery on bronze": f"select * from {T['gold']} where id in (select id from {T['bronze']})",
    "describe bronze": f"describe {T['bronze']}",
    "select quarantine": "select * from quality.quarantine",
    "describe quarantine": "describe quality.quarantine",
    "show tables in silver": "show tables in silver",
    "insert gold": f"insert into {T['gold']} values (2, 'x')",
    "update gold": f"update {T['gold']} set layer = 'x'",
    "delete gold": f"delete from {T['gold']}",
    "drop gold": f"drop table {T['gold']}",
    "create gold": f"create table gold.role_probe_new_{TAG} (n int) using delta",
    "create as select": f"create table quality.role_probe_copy_{TAG} as select * from {T['gold']}",
    "alter gold": f"alter table {T['gold']} set tblproperties ('x' = 'y')",
    "path read": f"select * from delta.`/tmp/{TAG}`",
    "reflection": "select java_method('java.lang.System', 'getenv', 'HOME')",
    "catalog by setting": "set spark.sql.catalog.evil=org.apache.spark.sql.delta.catalog.DeltaCatalog",
    "add jar": "add jar /tmp/evil.jar",
    "function": "create temporary function f as 'java.lang.String'",
    "tokenise a phone": "select pii.token('+8613800001111')",
    "tokenise in a CTE": "with t as (select pii.token('+8613800001111') as t) select * from t",
    "tokenise over a view": f"select pii.token(cast(id as string)) from {VIEW}",
    "encrypt": "select pii.encrypt('+8613800001111')",
}


@pytest.mark.parametrize("user", READERS)
@pytest.mark.parametrize("name", list(REFUSED))
def test_a_reader_is_refused_lower_layers_and_every_write(user, name):
    with pytest.raises(OperationalError, match="Permission denied|TABLE_OR_VIEW_NOT_FOUND"):
        thrift_query(REFUSED[name], user=user)


def test_nothing_a_reader_tried_changed_any_table():
    assert thrift_query(f"select id, layer from {T['gold']}") == [(1, "gold")]
    assert not thrift_query(f"show tables in gold like 'role_probe_new_{TAG}'")
    assert not thrift_query(f"show tables in quality like 'role_probe_copy_{TAG}'")


def test_the_pipeline_reads_and_writes_every_layer():
    for layer, table in T.items():
        thrift_query(f"insert into {table} values (2, '{layer}')")
        assert thrift_query(f"select count(*) from {table}") == [(2,)]
        thrift_query(f"delete from {table} where id = 2")
