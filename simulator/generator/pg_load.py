"""Load generated CRM and BSS tables into PostgreSQL in bulk (COPY), as an idempotent sync.

Rows go through COPY into a temporary table, then an upsert that only touches rows that
changed, and a delete of keys the new data set lacks. Rerunning with the same seed writes
nothing, so CDC sees no spurious changes; a new seed or scale shows up as real changes.
"""

from __future__ import annotations

import io

import psycopg2
import pyarrow as pa
import pyarrow.csv as pacsv

from core import pg_roles
from schemas.contracts import Contract


def _csv_bytes(table: pa.Table) -> io.BytesIO:
    buf = io.BytesIO()
    pacsv.write_csv(table, buf, pacsv.WriteOptions(include_header=False))
    buf.seek(0)
    return buf


def sync_table(contract: Contract, table: pa.Table) -> dict[str, int]:
    """Make the source table equal ``table``; return rows upserted and deleted, and the
    transaction id (what Debezium stamps on the change events, see spark_jobs/cdc/fence.py)."""
    if table.column_names != contract.column_names:
        raise ValueError(
            f"{contract.qualified_name}: generated columns {table.column_names} "
            f"differ from the contract's {contract.column_names}"
        )
    name, cols, key = contract.name, contract.column_names, contract.primary_key
    non_key = [c for c in cols if c not in key]
    key_list = ", ".join(key)
    with psycopg2.connect(pg_roles.source_dsn(contract.source, "generator")) as conn, conn.cursor() as cur:
        cur.execute(f"create temp table _load (like public.{name} including defaults) on commit drop")
        cur.copy_expert(f"copy _load ({', '.join(cols)}) from stdin with (format csv)", _csv_bytes(table))
        cur.execute(
            f"insert into public.{name} as t ({', '.join(cols)}) select {', '.join(cols)} from _load "
            f"on conflict ({key_list}) do update set {', '.join(f'{c} = excluded.{c}' for c in non_key)} "
            f"where ({', '.join('t.' + c for c in non_key)}) is distinct from "
            f"({', '.join('excluded.' + c for c in non_key)})"
        )
        upserted = cur.rowcount
        cur.execute(
            f"delete from public.{name} t where not exists "
            f"(select 1 from _load s where {' and '.join(f's.{k} = t.{k}' for k in key)})"
        )
        deleted = cur.rowcount
        cur.execute("select txid_current()")
        tx_id = cur.fetchone()[0]
    return {"upserted": upserted, "deleted": deleted, "tx_id": tx_id}
