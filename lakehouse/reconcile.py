"""Reconcile a source table with its current-state table in the lakehouse, key by key.

Reads the source from PostgreSQL and the current state through the Thrift server (the SQL
endpoint everyone else uses), normalises both by the contract's types, and compares each
key's row hash. ``python -m lakehouse.reconcile`` checks every CDC table.
"""

from __future__ import annotations

import hashlib
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

import psycopg2

from core import pg_roles
from core.sql import thrift_query
from schemas.contracts import Contract, load_contracts


def _norm(value, contract_type: str):
    if value is None:
        return None
    base = contract_type.split("(")[0]
    if base in ("bigint", "int", "smallint"):
        return int(value)
    if base == "decimal":
        return Decimal(str(value)).normalize()
    if base == "double":
        return round(float(value), 9)
    if base == "boolean":
        return value if isinstance(value, bool) else str(value).lower() == "true"
    if base == "date":
        return value.isoformat() if isinstance(value, date) else str(value)[:10]
    if base in ("timestamp", "timestamptz"):
        if isinstance(value, datetime):
            return value.replace(tzinfo=None).isoformat(sep=" ")
        return datetime.fromisoformat(str(value)).isoformat(sep=" ")
    return str(value)


def row_hashes(rows, contract: Contract) -> list[tuple[tuple, str]]:
    """(key, hash of the normalised row) per row, in order; a key may appear more than once."""
    key_idx = [contract.column_names.index(k) for k in contract.primary_key]
    out = []
    for r in rows:
        normed = tuple(_norm(v, c.type) for v, c in zip(r, contract.columns))
        out.append((tuple(normed[i] for i in key_idx), hashlib.sha256(repr(normed).encode()).hexdigest()))
    return out


@dataclass
class Diff:
    table: str
    source_rows: int
    lakehouse_rows: int
    missing: list = field(default_factory=list)  # in the source, not in the lakehouse
    extra: list = field(default_factory=list)  # in the lakehouse, not in the source
    different: list = field(default_factory=list)  # both, with other values
    duplicated: list = field(default_factory=list)  # keys held by more than one row on either side

    @property
    def exact(self) -> bool:
        return not (self.missing or self.extra or self.different or self.duplicated)

    def summary(self) -> str:
        state = (
            "exact"
            if self.exact
            else (
                f"{len(self.missing)} missing, {len(self.extra)} extra, {len(self.different)} different, "
                f"{len(self.duplicated)} duplicated"
            )
        )
        return f"reconcile {self.table}: source {self.source_rows}, lakehouse {self.lakehouse_rows}: {state}"


def compare(table: str, source_rows, lakehouse_rows, contract: Contract) -> Diff:
    """Source rows against lakehouse rows (tuples in the contract's column order), key by key.
    Rows are counted, not collapsed by key: a key held twice is reported as duplicated even when
    both copies equal the source."""
    source, lake = row_hashes(source_rows, contract), row_hashes(lakehouse_rows, contract)
    diff = Diff(table, len(source), len(lake))
    source_hash = dict(source)
    diff.duplicated = sorted(
        {k for k, n in Counter(k for k, _ in source).items() if n > 1}
        | {k for k, n in Counter(k for k, _ in lake).items() if n > 1}
    )
    lake_hashes: dict[tuple, set[str]] = {}
    for k, h in lake:
        lake_hashes.setdefault(k, set()).add(h)
    diff.missing = sorted(k for k in source_hash if k not in lake_hashes)
    diff.extra = sorted(k for k in lake_hashes if k not in source_hash)
    diff.different = sorted(k for k, h in source_hash.items() if k in lake_hashes and lake_hashes[k] != {h})
    return diff


def reconcile(contract: Contract) -> Diff:
    from spark_jobs.cdc.current_state import current_table_for

    cols = ", ".join(contract.column_names)
    with psycopg2.connect(pg_roles.source_dsn(contract.source, "pipeline")) as conn, conn.cursor() as cur:
        cur.execute(f"select {cols} from public.{contract.name}")
        source = cur.fetchall()
    lake = thrift_query(f"select {cols} from {current_table_for(contract)} where not _is_deleted")
    return compare(contract.qualified_name, source, lake, contract)


def reconcile_all() -> list[Diff]:
    return [reconcile(c) for c in load_contracts() if c.is_database_table]


def main() -> int:
    diffs = reconcile_all()
    for d in diffs:
        print(d.summary())
    return 0 if all(d.exact for d in diffs) else 1


if __name__ == "__main__":
    sys.exit(main())
