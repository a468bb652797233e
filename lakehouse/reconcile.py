"""Reconcile a source table with its current-state table in the lakehouse, key by key.

Reads the source from PostgreSQL and the current state through the Thrift server (the SQL
endpoint everyone else uses), normalises both by the contract's types, and compares each
key's row hash. ``python -m lakehouse.reconcile`` checks every CDC table.
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

import psycopg2

from core.settings import get_settings
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


def row_hashes(rows, contract: Contract) -> dict[tuple, str]:
    key_idx = [contract.column_names.index(k) for k in contract.primary_key]
    out = {}
    for r in rows:
        normed = tuple(_norm(v, c.type) for v, c in zip(r, contract.columns))
        out[tuple(normed[i] for i in key_idx)] = hashlib.sha256(repr(normed).encode()).hexdigest()
    return out


@dataclass
class Diff:
    table: str
    source_rows: int
    lakehouse_rows: int
    missing: list = field(default_factory=list)  # in the source, not in the lakehouse
    extra: list = field(default_factory=list)  # in the lakehouse, not in the source
    different: list = field(default_factory=list)  # both, with other values

    @property
    def exact(self) -> bool:
        return not (self.missing or self.extra or self.different)

    def summary(self) -> str:
        state = (
            "exact"
            if self.exact
            else (f"{len(self.missing)} missing, {len(self.extra)} extra, {len(self.different)} different")
        )
        return f"reconcile {self.table}: source {self.source_rows}, lakehouse {self.lakehouse_rows}: {state}"


def reconcile(contract: Contract) -> Diff:
    from spark_jobs.cdc.current_state import current_table_for

    cols = ", ".join(contract.column_names)
    with psycopg2.connect(get_settings().source_dsn(contract.source)) as conn, conn.cursor() as cur:
        cur.execute(f"select {cols} from public.{contract.name}")
        source = row_hashes(cur.fetchall(), contract)
    lake = row_hashes(thrift_query(f"select {cols} from {current_table_for(contract)} where not _is_deleted"), contract)
    diff = Diff(contract.qualified_name, len(source), len(lake))
    diff.missing = sorted(k for k in source if k not in lake)
    diff.extra = sorted(k for k in lake if k not in source)
    diff.different = sorted(k for k in source if k in lake and source[k] != lake[k])
    return diff


def reconcile_all() -> list[Diff]:
    return [reconcile(c) for c in load_contracts() if c.is_database_table]


def main() -> int:
    diffs = reconcile_all()
    for d in diffs:
        print(d.summary())
    return 0 if all(d.exact for d in diffs) else 1


if __name__ == "__main__":
    sys.exit(main())
