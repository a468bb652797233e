"""Gold's column comments come from the dbt YAML, and only the differing ones are altered."""

from __future__ import annotations

from spark_jobs import catalog_docs as cd


def test_every_gold_model_yaml_is_read_with_its_column_descriptions():
    docs = {d.name: d for d in cd.model_docs()}
    assert "dim_user" in docs and docs["dim_user"].columns
    assert all(" \n" not in text and "  " not in text for d in docs.values() for text in d.columns.values())


def test_only_columns_whose_comment_differs_are_altered_and_quotes_are_escaped():
    wanted = cd.ModelDocs("t", "a table", {"a": "same", "b": "it's new", "gone": "no such column"})
    rows = [("a", "string", "same"), ("b", "int", None), ("", "", ""), ("# Partitioning", "", ""), ("x", "", "")]
    assert cd.statements("gold.t", wanted, rows) == ["alter table gold.t alter column `b` comment 'it\\'s new'"]
    assert cd.statements("gold.t", cd.ModelDocs("t", "", {"a": "same"}), rows) == []
