"""The contract's ``landing`` field: append (default) or upsert with a version column; anything
else is refused with the file and the reason."""

from __future__ import annotations

import pytest

from schemas.contracts import ContractError, Landing, get_contract, parse_contract


def _feed(**overrides):
    doc = {
        "name": "things",
        "source": "network",
        "primary_key": ["thing_id"],
        "format": "csv",
        "columns": [
            {"name": "thing_id", "type": "varchar(8)", "nullable": False},
            {"name": "label", "type": "text"},
            {"name": "updated_at", "type": "timestamp", "nullable": False},
            {"name": "changed_at", "type": "timestamp"},
        ],
    }
    doc.update(overrides)
    return doc


def test_feeds_declare_their_landing_semantics():
    assert get_contract("network.cells").landing == Landing("upsert", "updated_at")
    assert get_contract("app.events").landing == Landing("append")
    assert get_contract("network.cell_kpis").landing == Landing("append")
    assert parse_contract(_feed()).landing == Landing("append")


@pytest.mark.parametrize(
    "landing, message",
    [
        ({"mode": "replace"}, "landing mode 'replace' is not one of append, upsert"),
        ({"mode": "upsert"}, "upsert needs a version_column"),
        ({"mode": "upsert", "version_column": "nope"}, "version_column 'nope' is not a column"),
        ({"mode": "upsert", "version_column": "changed_at"}, "'changed_at' must be nullable: false"),
        ({"mode": "upsert", "version_column": "thing_id"}, "has type 'varchar\\(8\\)'"),
        ({"mode": "append", "version_column": "updated_at"}, "append takes no version_column"),
        ({"mode": "upsert", "version": "updated_at"}, "missing or malformed field"),
        ("upsert", "missing or malformed field"),
    ],
)
def test_a_bad_landing_is_refused_with_the_reason(landing, message):
    with pytest.raises(ContractError, match=message):
        parse_contract(_feed(landing=landing))


def test_a_database_table_takes_no_landing():
    doc = _feed(landing={"mode": "upsert", "version_column": "updated_at"})
    del doc["format"]
    with pytest.raises(ContractError, match="file feeds only"):
        parse_contract(doc)
