"""The source databases: DDL from the contracts, a bulk load whose defects SQL can find, an
idempotent re-sync, and the OLTP workload."""

from __future__ import annotations

import re

import psycopg2
import pytest

from core import pg_roles
from schemas.contracts import load_contracts
from schemas.ddl import pg_type
from simulator.generator.cli import generate
from simulator.generator.config import GeneratorConfig
from simulator.workload import Workload

pytestmark = pytest.mark.integration
CFG = GeneratorConfig(scale=0.003, seed=7, days=3)


def _query(db: str, sql: str, params=None):
    with psycopg2.connect(pg_roles.dsn(db, "generator")) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    return generate(CFG, tmp_path_factory.mktemp("landing"), load_db=True, show_progress=False)


def test_tables_in_postgres_are_the_contracts(manifest):
    for c in load_contracts():
        if not c.is_database_table:
            continue
        cols = _query(
            c.source,
            "select column_name, data_type, numeric_precision, numeric_scale, "
            "character_maximum_length, is_nullable from information_schema.columns "
            "where table_schema = 'public' and table_name = %s order by ordinal_position",
            (c.name,),
        )
        assert [r[0] for r in cols] == c.column_names, c.qualified_name
        for col, (_, data_type, prec, scale, length, nullable) in zip(c.columns, cols):
            expected = pg_type(col.type)
            if expected.startswith("varchar"):
                assert (data_type, length) == ("character varying", int(re.findall(r"\d+", expected)[0])), col.name
            elif expected.startswith("decimal"):
                assert (data_type, prec, scale) == ("numeric", *map(int, re.findall(r"\d+", expected))), col.name
            else:
                assert (
                    data_type.split(" ")[0]
                    in {
                        "bigint": "bigint",
                        "int": "integer",
                        "smallint": "smallint",
                        "boolean": "boolean",
                        "date": "date",
                        "timestamp(6)": "timestamp",
                        "double precision": "double",
                    }[expected]
                ), col.name
            assert (nullable == "YES") == col.nullable, col.name
        pk = _query(
            c.source,
            "select a.attname from pg_index i join pg_attribute a on a.attrelid = i.indrelid "
            "and a.attnum = any(i.indkey) where i.indrelid = %s::regclass and i.indisprimary",
            (f"public.{c.name}",),
        )
        assert {r[0] for r in pk} == set(c.primary_key)


def test_row_counts_are_the_manifests(manifest):
    for name, n in manifest.rows.items():
        source, table = name.split(".")
        if source in ("crm", "bss"):
            assert _query(source, f"select count(*) from {table}")[0][0] == n, name


def test_sql_finds_exactly_the_planted_defects(manifest):
    d = manifest.defects
    nulls = [r[0] for r in _query("crm", "select customer_id from customers where phone is null order by 1")]
    assert nulls == d["null_phone"]["keys"]
    mism = [
        r[0]
        for r in _query(
            "bss",
            "select o.order_id from orders o join products p using (product_id) where o.amount <> p.price order by 1",
        )
    ]
    assert mism == sorted(d["amount_mismatch"]["keys"])
    crm_phones = {
        r[0]
        for r in _query(
            "crm",
            "select right(regexp_replace(phone, '[^0-9]', '', 'g'), 11) from customers "
            "where regexp_replace(phone, '[^0-9]', '', 'g') ~ '^(0086|86)?1[3-9][0-9]{9}$'",
        )
    }
    bss_phones = {r[0] for r in _query("bss", "select phone from subscribers")}
    orphans = sorted(
        r[0] for r in _query("bss", "select order_id, phone from orders") if r[1] not in crm_phones | bss_phones
    )
    assert orphans == sorted(d["orphan_orders"]["keys"])
    crm_gender = dict(
        _query(
            "crm",
            "select right(regexp_replace(phone, '[^0-9]', '', 'g'), 11), gender from customers "
            "where regexp_replace(phone, '[^0-9]', '', 'g') ~ '^(0086|86)?1[3-9][0-9]{9}$'",
        )
    )
    bss_gender = dict(
        _query("bss", "select phone, case gender when '1' then 'M' when '2' then 'F' else 'U' end from subscribers")
    )
    mismatched = sorted(
        p for p, g in bss_gender.items() if p in crm_gender and "U" not in (g, crm_gender[p]) and g != crm_gender[p]
    )
    assert mismatched == sorted(d["gender_mismatch"]["keys"])


def test_reloading_the_same_data_changes_no_row(manifest):
    again = generate(CFG, None, load_db=True, show_progress=False)
    assert {k: (v["upserted"], v["deleted"]) for k, v in again.loads.items()} == dict.fromkeys(again.loads, (0, 0))


def test_workload_makes_legal_changes_at_its_rate(manifest):
    before = _query("bss", "select count(*) from orders")[0][0]
    w = Workload(seed=3)
    try:
        stats = w.run(rate=400, max_changes=400)
    finally:
        w.close()
    assert stats.changes >= 400
    # The limiter never runs ahead of the rate by more than one transaction.
    assert stats.changes <= 400 * stats.seconds + 8 * 2 + 2
    assert stats.ops["new_order"] > 0 and stats.ops["advance_order"] > 0 and stats.ops["advance_ticket"] > 0
    new_orders = stats.ops["new_order"]
    deleted = stats.ops["delete"]
    assert _query("bss", "select count(*) from orders")[0][0] == before + new_orders - deleted
    ids = [r[0] for r in _query("bss", "select order_id from orders")]
    assert all(re.match(r"^(MOB|BRD|IPT|VAS)\d{8}\d{6}$", i) for i in ids)
    # New customers exist in both systems with the same phone.
    assert (
        _query("crm", "select count(*) from customers where full_name like '新用户%%'")[0][0]
        == _query("bss", "select count(*) from subscribers where subscriber_id > 5000000 + %s", (CFG.n_customers,))[0][
            0
        ]
    )
