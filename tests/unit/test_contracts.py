import pytest

from schemas.contracts import ContractError, get_contract, load_contracts, parse_contract
from schemas.ddl import create_table_sql


def _doc(**overrides):
    doc = {
        "name": "things",
        "source": "crm",
        "primary_key": ["thing_id"],
        "columns": [
            {"name": "thing_id", "type": "bigint", "nullable": False},
            {"name": "label", "type": "varchar(10)", "allowed": ["a", "b"]},
        ],
    }
    doc.update(overrides)
    return doc


def test_every_contract_file_loads_with_its_key_among_its_columns():
    contracts = load_contracts()
    names = {c.qualified_name for c in contracts}
    assert {"crm.customers", "bss.products"} <= names
    for c in contracts:
        assert set(c.primary_key) <= set(c.column_names)


def test_every_contract_names_its_it_and_business_owners():
    owners = {c.qualified_name: c.owners for c in load_contracts()}
    assert all(collection == "IT" and use and use != "IT" for collection, use in owners.values()), owners
    assert owners["bss.orders"] == ("IT", "sales")
    assert parse_contract(_doc()).owners == ("", "")


def test_phone_is_pii_and_carries_the_completeness_rule():
    phone = get_contract("crm.customers").column("phone")
    assert phone.pii
    assert [(r.rule, r.dimension, r.severity, r.threshold) for r in phone.rules] == [
        ("not_null", "completeness", "critical", 0.98),
        ("phone_format", "validity", "warning", 0.95),
    ]


def test_ddl_has_types_nullability_key_and_allowed_values():
    sql = create_table_sql(parse_contract(_doc()))
    assert "thing_id bigint not null" in sql
    assert "label varchar(10)," in sql
    assert "check (label in ('a', 'b'))" in sql
    assert "primary key (thing_id)" in sql
    assert "replica identity full" in sql


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"primary_key": ["nope"]}, "primary key column 'nope' is not a column"),
        ({"columns": [{"name": "thing_id", "type": "blob", "nullable": False}]}, "unsupported type 'blob'"),
        ({"primary_key": ["label"], "columns": [{"name": "label", "type": "text"}]}, "must be nullable: false"),
        ({"columns": None}, "missing or malformed field"),
        # names go into SQL and topic names unquoted
        ({"name": "things; drop table x"}, "table name 'things; drop table x' is not a plain identifier"),
        ({"source": "CRM"}, "source name 'CRM' is not a plain identifier"),
        ({"owner": "billing"}, "owner 'billing' is not '<who> \\(collection\\) / <who> \\(use\\)'"),
        (
            {
                "columns": [
                    {"name": "thing_id", "type": "bigint", "nullable": False},
                    {"name": "la-bel", "type": "text"},
                ]
            },
            "column name 'la-bel' is not a plain identifier",
        ),
    ],
)
def test_bad_contracts_are_refused_with_the_reason(overrides, message):
    with pytest.raises(ContractError, match=message):
        parse_contract(_doc(**overrides))


def test_unknown_contract_name_is_a_clear_error():
    with pytest.raises(KeyError, match="no contract named 'crm.nothing'"):
        get_contract("crm.nothing")
