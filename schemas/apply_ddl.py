"""Create the CRM and BSS source tables from the contracts: ``python -m schemas.apply_ddl``.

Idempotent (create if not exists). Run before Debezium's connectors are registered, so their
publications include every table.
"""

from __future__ import annotations

import sys

import psycopg2

from core.settings import get_settings
from schemas.contracts import load_contracts
from schemas.ddl import create_table_sql

# Debezium's source signal channel (the connectors' ``signal.data.collection``): an insert here
# asks the connector for an incremental snapshot (``spark_jobs.cdc.recover``).
SIGNAL_TABLE = "debezium_signal"
SIGNAL_TABLE_SQL = (
    f"create table if not exists {SIGNAL_TABLE} (id varchar(42) primary key, type varchar(32) not null, data text)"
)


def apply_ddl() -> dict[str, list[str]]:
    settings = get_settings()
    created: dict[str, list[str]] = {}
    for source in sorted({c.source for c in load_contracts() if c.is_database_table}):
        with psycopg2.connect(settings.source_dsn(source)) as conn, conn.cursor() as cur:
            cur.execute(SIGNAL_TABLE_SQL)
    for contract in load_contracts():
        if not contract.is_database_table:
            continue
        with psycopg2.connect(settings.source_dsn(contract.source)) as conn, conn.cursor() as cur:
            cur.execute(create_table_sql(contract))
        created.setdefault(contract.source, []).append(contract.name)
    return created


def main() -> int:
    try:
        created = apply_ddl()
    except psycopg2.OperationalError as e:
        s = get_settings()
        print(
            f"apply_ddl: cannot reach PostgreSQL at {s.pg_host}:{s.pg_port} ({e}). "
            "Start it: infra/stack.sh start postgres",
            file=sys.stderr,
        )
        return 1
    for source, tables in created.items():
        print(f"source tables ready in {source}: {', '.join(tables)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
