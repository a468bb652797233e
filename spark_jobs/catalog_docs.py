"""Gold's dbt descriptions as comments in the metastore, where a BI tool's schema browser shows
them: ``python -m spark_jobs.catalog_docs``, and a task of the daily maintenance DAG.

dbt sets each gold table's comment as it creates it (``persist_docs: relation``). Column comments
are set here, not by dbt: dbt would run one ``ALTER`` per described column after every build of
every model, each a Delta commit, on the frequent refresh path too. Here one ``DESCRIBE`` per
table finds the comments that differ from the models' YAML and only those are altered: nothing
is written when nothing changed.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from core.dbt_cli import DBT_PROJECT_DIR
from core.sql import thrift_query

MARTS_DIR = DBT_PROJECT_DIR / "models" / "marts"


@dataclass(frozen=True)
class ModelDocs:
    name: str
    description: str
    columns: dict[str, str]


def model_docs(folder: Path = MARTS_DIR) -> list[ModelDocs]:
    """The described gold models of the dbt project (the YAML beside each model)."""
    docs = []
    for path in sorted(folder.glob("*.yml")):
        for model in (yaml.safe_load(path.read_text()) or {}).get("models", []):
            columns = {
                c["name"]: " ".join(c["description"].split()) for c in model.get("columns", []) if c.get("description")
            }
            docs.append(ModelDocs(model["name"], " ".join((model.get("description") or "").split()), columns))
    return docs


def _quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def statements(table: str, wanted: ModelDocs, describe_rows: list[tuple]) -> list[str]:
    """The ALTERs that bring ``table``'s column comments to ``wanted`` (none when they agree).
    ``describe_rows``: the table's ``DESCRIBE`` (name, type, comment), up to the first ``#`` row."""
    current = {}
    for name, _type, comment in describe_rows:
        if not name or name.startswith("#"):
            break
        current[name] = comment or ""
    return [
        f"alter table {table} alter column `{column}` comment {_quote(text)}"
        for column, text in wanted.columns.items()
        if column in current and current[column] != text
    ]


def apply(schema: str = "gold") -> dict[str, int]:
    """Set the differing comments of every described gold model that exists; returns the
    number altered per table."""
    if not thrift_query(f"show databases like '{schema}'"):
        return {}  # no build yet
    views = {row[1] for row in thrift_query(f"show views in {schema}")}  # their columns take no comment
    existing = {row[1] for row in thrift_query(f"show tables in {schema}")} - views
    altered = {}
    for docs in model_docs():
        if docs.name not in existing or not docs.columns:
            continue
        table = f"{schema}.{docs.name}"
        todo = statements(table, docs, thrift_query(f"describe {table}"))
        for sql in todo:
            thrift_query(sql)
        altered[table] = len(todo)
    return altered


def main() -> int:
    altered = apply()
    print(f"catalog docs: {sum(altered.values())} column comments set on {len(altered)} gold tables")
    return 0


if __name__ == "__main__":
    sys.exit(main())
