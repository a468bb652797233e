"""The contracts' personal data as people outside the pipeline meet it: logged in as ``analyst``,
every table and column the serving endpoint lets them read holds no phone number, name or birth
date of the sources (tokens and masked forms only); silver and gold have no column of a
contract's pii name; only the pipeline decrypts; no statement's text reaches a server log.

Reads the gold that the end-to-end build (test_build_end_to_end.py, or ``make run``) made."""

from __future__ import annotations

import re
import uuid

import pytest
from pyhive.exc import OperationalError

from core import pii
from core.settings import get_settings
from core.sql import thrift_query
from schemas.contracts import load_contracts

pytestmark = pytest.mark.integration
ANALYST = "analyst"
_DIGIT_RUN = re.compile(r"\d{11,}")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _pii_columns() -> list[tuple[str, str, str]]:
    """(bronze table, column, its base type) of every column a contract flags pii."""
    return [
        (f"bronze.{c.source}_{c.name}", col.name, col.base_type)
        for c in load_contracts()
        for col in c.columns
        if col.pii
    ]


@pytest.fixture(scope="module")
def source_pii():
    """Every pii value bronze holds: the mobile numbers (11 digits), the names, the birth dates."""
    phones: set[str] = set()
    typed: set[str] = set()
    names: set[str] = set()
    births: set[str] = set()
    for table, column, base_type in _pii_columns():
        values = {
            r[0]
            for r in thrift_query(f"select distinct cast({column} as string) from {table} where {column} is not null")
        }
        if base_type == "date":
            births |= values
        elif "phone" in column:
            typed |= {v for v in values if len(v) >= 7}
            phones |= {re.sub(r"\D", "", v)[-11:] for v in values if len(re.sub(r"\D", "", v)) >= 11}
        else:
            names |= values
    if not (phones and names and births):
        pytest.fail("bronze holds no personal data to look for: build first (make run, or test_build_end_to_end.py)")
    return phones, typed, names, births


def _readable_tables() -> tuple[list[str], list[str]]:
    """(the tables and views the analyst lists and reads, those listed but refused)."""
    readable, refused = [], []
    for db in ("gold", "quality"):
        for row in thrift_query(f"show tables in {db}", user=ANALYST):
            table = f"{db}.{row[1]}"
            try:
                thrift_query(f"select * from {table} limit 0", user=ANALYST)
                readable.append(table)
            except OperationalError as e:
                assert "Permission denied" in str(e), e
                refused.append(table)
    return readable, refused


def _distinct_values(table: str) -> set[str]:
    """Every distinct value of the table's string, date and whole-number columns, as strings."""
    columns = [
        r[0]
        for r in thrift_query(f"describe {table}", user=ANALYST)
        if r[0] and not r[0].startswith("#") and re.match(r"(string|varchar|char|date|bigint|int)", r[1] or "")
    ]
    if not columns:
        return set()
    values = ", ".join(f"cast(`{c}` as string)" for c in columns)
    query = f"select distinct v from (select explode(array({values})) as v from {table}) where v is not null"
    return {r[0] for r in thrift_query(query, user=ANALYST)}


def _name_hits(value: str, names: set[str], lengths: set[int]) -> set[str]:
    return {value[i : i + n] for n in lengths for i in range(len(value) - n + 1)} & names


def test_nothing_an_analyst_can_read_holds_a_phone_name_or_birth_date(source_pii):
    phones, typed, names, births = source_pii
    # a canary the scan must find, so that a scan that finds nothing means something
    canary = f"gold.pii_canary_{uuid.uuid4().hex[:8]}"
    leaks = [f"+86 {min(phones)}", f"Dear {min(names)}", min(births)]
    thrift_query(f"create table {canary} using delta as select * from values " + ", ".join(f"('{v}')" for v in leaks))
    try:
        readable, refused = _readable_tables()
        found = _scan(readable, phones, typed, names, births)
    finally:
        thrift_query(f"drop table {canary}")
    assert sorted(found.pop(canary, [])) == sorted(leaks)
    assert "gold.dim_user" in readable and "gold.fct_orders" in readable
    assert set(refused) <= {"quality.quarantine"}, refused  # the raw rows the gates held back
    assert not found, {t: v[:5] for t, v in found.items()}


def _scan(
    readable: list[str], phones: set[str], typed: set[str], names: set[str], births: set[str]
) -> dict[str, list[str]]:
    """The values of each table that equal or contain a source's phone, name or birth date."""
    lengths = {len(n) for n in names}
    found: dict[str, list[str]] = {}
    values_seen = 0
    for table in readable:
        for value in _distinct_values(table):
            values_seen += 1
            hits = (
                {run[-11:] for run in _DIGIT_RUN.findall(value)} & phones
                | ({value} & typed)
                | _name_hits(value, names, lengths)
                | (set(_ISO_DATE.findall(value)) & births)
            )
            if hits:
                found.setdefault(table, []).append(value)
    print(f"scanned {len(readable)} tables, {values_seen} distinct values")
    assert values_seen > 1000
    return found


def test_the_masks_and_tokens_in_gold_are_of_the_numbers_the_pipeline_decrypts():
    rows = thrift_query(
        "select u.user_key, u.phone_masked, u.full_name_masked, pii.decrypt(s.phone_encrypted), "
        "pii.decrypt(s.full_name_encrypted) from gold.dim_user u join silver.int_users s using (user_key) "
        "where u.user_id is not null and s.full_name_encrypted is not null limit 200"
    )
    assert len(rows) >= 50
    for key, phone_masked, name_masked, phone, name in rows:
        digits = re.sub(r"\D", "", phone)[-11:]
        assert key == pii.token("+86" + digits)
        assert phone_masked == pii.mask_phone("+86" + digits) and digits not in phone_masked
        assert name_masked == pii.mask_name(name) and name not in name_masked


def test_no_silver_or_gold_column_carries_a_contract_pii_name():
    pii_names = {column for _, column, _ in _pii_columns()}
    offending = []
    for db in ("silver", "gold"):
        for row in thrift_query(f"show tables in {db}"):
            table = f"{db}.{row[1]}"
            columns = {r[0] for r in thrift_query(f"describe {table}") if r[0] and not r[0].startswith("#")}
            offending += [f"{table}.{c}" for c in columns & pii_names]
    assert not offending


@pytest.mark.parametrize("user", ["pipeline", ANALYST])
def test_no_statement_text_reaches_a_server_log(user):
    marker = f"lit{uuid.uuid4().hex}"
    assert thrift_query(f"select '{marker}' as x", user=user) == [(marker,)]
    with pytest.raises(OperationalError):
        thrift_query(f"select '{marker}' from gold.no_such_table_{marker}", user=user)
    with pytest.raises(OperationalError):
        thrift_query(f"selec '{marker}'", user=user)  # a parse error quotes the statement
    logs = get_settings().log_dir
    leaked = [p.name for p in logs.rglob("*") if p.is_file() and marker.encode() in p.read_bytes()]
    assert not leaked
