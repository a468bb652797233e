"""PostgreSQL DDL for the CRM and BSS source databases, derived from the contracts."""

from __future__ import annotations

from schemas.contracts import Contract

_PG_TYPES = {"timestamp": "timestamp(6)", "double": "double precision"}


def pg_type(contract_type: str) -> str:
    return _PG_TYPES.get(contract_type, contract_type)


def create_table_sql(contract: Contract) -> str:
    cols = [f"    {c.name} {pg_type(c.type)}{'' if c.nullable else ' not null'}" for c in contract.columns]
    for c in contract.columns:
        if c.allowed:
            values = ", ".join("'" + v.replace("'", "''") + "'" for v in c.allowed)
            cols.append(f"    constraint {contract.name}_{c.name}_allowed check ({c.name} in ({values}))")
    cols.append(f"    primary key ({', '.join(contract.primary_key)})")
    body = ",\n".join(cols)
    # Full before-images on update and delete, so CDC carries every column, not just the key.
    return (
        f"create table if not exists public.{contract.name} (\n{body}\n);\n"
        f"alter table public.{contract.name} replica identity full;\n"
    )
