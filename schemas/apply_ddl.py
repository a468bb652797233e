"""Create the CRM and BSS source tables from the contracts: ``python -m schemas.apply_ddl``.

Idempotent (create if not exists). Runs as the sources' owner (``generator``), which also keeps each
database's publication (``debezium_<source>``: every table of its contracts and the signal table;
only a table's owner may publish it, and Debezium's login owns nothing) and grants the pipeline the
few writes it makes: a signal row, and the no-op touch of a sentinel row. Run before Debezium's
connectors are registered.
"""

from __future__ import annotations

import sys

import psycopg2

from core import pg_roles
from core.settings import get_settings
from schemas.contracts import Contract, load_contracts
from schemas.ddl import create_table_sql

# Debezium's source signal channel (the connectors' ``signal.data.collection``): an insert here
# asks the connector for an incremental snapshot (``spark_jobs.cdc.recover``).
SIGNAL_TABLE = "debezium_signal"
SIGNAL_TABLE_SQL = (
    f"create table if not exists {SIGNAL_TABLE} (id varchar(42) primary key, type varchar(32) not null, data text)"
)

# One small table per source database: a no-op update of its key is a sentinel transaction
# (spark_jobs.cdc.fence), the one update the pipeline may make.
SENTINELS = {"crm": ("customers", "customer_id"), "bss": ("products", "product_id")}


def publication(source: str) -> str:
    """The publication Debezium's connector for ``source`` streams (its ``publication.name``)."""
    return f"debezium_{source}"


def apply_ddl() -> dict[str, list[str]]:
    by_source: dict[str, list[Contract]] = {}
    for contract in load_contracts():
        if contract.is_database_table:
            by_source.setdefault(contract.source, []).append(contract)
    created = {source: [c.name for c in contracts] for source, contracts in by_source.items()}
    for source, contracts in sorted(by_source.items()):
        tables = created[source]
        with psycopg2.connect(pg_roles.source_dsn(source, "generator")) as conn, conn.cursor() as cur:
            cur.execute(SIGNAL_TABLE_SQL)
            for contract in contracts:
                cur.execute(create_table_sql(contract))
            # Debezium writes its snapshot watermarks into the signal table; the pipeline asks
            # for snapshots there (spark_jobs.cdc.recover).
            cur.execute(f"grant select, insert on {SIGNAL_TABLE} to debezium, pipeline")
            if source in SENTINELS:
                table, key = SENTINELS[source]
                cur.execute(f"grant update ({key}) on {table} to pipeline")
            published = ", ".join([*tables, SIGNAL_TABLE])
            cur.execute("select from pg_publication where pubname = %s", (publication(source),))
            verb = (
                "alter publication {} set table {}"
                if cur.fetchone() is not None
                else "create publication {} for table {}"
            )
            cur.execute(verb.format(publication(source), published))
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
