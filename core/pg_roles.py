"""PostgreSQL's roles: one login per component, each with only what it needs, its password from the
secret store (``pg_<role>``). ``python -m core.pg_roles`` creates or updates them and the
databases; ``infra/services/postgres.sh`` runs it on every start, as the cluster's owner over the
local socket (peer authentication: no password, no ``trust``).

A cluster made before these roles (every component logged in as the superuser ``lakehouse``) is
migrated: what that role owned passes to each database's owner, then the role is dropped.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from core.secrets import libpq_value, scram_sha256, secret
from core.settings import get_settings

ADMIN = "postgres"
LEGACY_SUPERUSER = "lakehouse"


@dataclass(frozen=True)
class Role:
    name: str
    attributes: str
    purpose: str


ROLES = {
    r.name: r
    for r in (
        Role("generator", "login createdb", "owns the CRM and BSS sources: their DDL, loads and changes"),
        Role("debezium", "login replication", "streams the sources' changes; reads their tables for snapshots"),
        Role("pipeline", "login", "reads the sources (reconciliation, slot health, fences); asks for snapshots"),
        Role("metastore", "login", "owns the Hive metastore's database"),
        Role("airflow", "login", "owns Airflow's metadata database"),
    )
}
# Database -> owner. The sources' tables are created by their owner (schemas.apply_ddl).
DATABASES = {"crm": "generator", "bss": "generator", "metastore": "metastore", "airflow": "airflow"}
SOURCE_READERS = ("debezium", "pipeline")


def password(role: str) -> str:
    return secret(f"pg_{role}")


def dsn(database: str, role: str) -> str:
    """A libpq connection string for ``role`` (one of ``ROLES``) over TCP."""
    if role not in ROLES:
        raise ValueError(f"unknown PostgreSQL role {role!r}; one of {', '.join(ROLES)}")
    s = get_settings()
    parts = {"host": s.pg_host, "port": str(s.pg_port), "dbname": database, "user": role, "password": password(role)}
    return " ".join(f"{k}={libpq_value(v)}" for k, v in parts.items())


def source_dsn(source: str, role: str) -> str:
    """The CRM or BSS database (or its uncaptured copy, see ``source_db_suffix``) as ``role``."""
    return dsn(source + get_settings().source_db_suffix, role)


def admin_dsn(database: str) -> str:
    """The cluster owner over the local socket (peer authentication, infra/postgres/pg_ident.conf)."""
    s = get_settings()
    socket_dir = s.home / "run" / "postgres"
    return f"host={libpq_value(str(socket_dir))} port={s.pg_port} dbname={libpq_value(database)} user={ADMIN}"


@contextmanager
def _admin_cursor(database: str) -> Iterator:
    """A cursor of the cluster's owner on ``database``, each statement its own transaction
    (CREATE DATABASE runs in none)."""
    import psycopg2

    conn = psycopg2.connect(admin_dsn(database))
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            yield cur
    finally:
        conn.close()


def _exists(cur, sql: str, *args: object) -> bool:
    cur.execute(sql, args)
    return cur.fetchone() is not None


def bootstrap() -> list[str]:
    """Create or update the roles, databases and grants; returns what it did, a line each."""
    from psycopg2 import sql

    done: list[str] = []
    legacy_role = sql.Identifier(LEGACY_SUPERUSER)
    with _admin_cursor("postgres") as cur:
        for role in ROLES.values():
            ident = sql.Identifier(role.name)
            if not _exists(cur, "select from pg_roles where rolname = %s", role.name):
                cur.execute(sql.SQL("create role {} " + role.attributes).format(ident))
                done.append(f"role {role.name} created")
            # The verifier, not the password: the clear text never reaches the server or its log.
            cur.execute(
                sql.SQL("alter role {} " + role.attributes + " password %s").format(ident),
                (scram_sha256(password(role.name)),),
            )
        for database, owner in DATABASES.items():
            ident = sql.Identifier(database)
            if not _exists(cur, "select from pg_database where datname = %s", database):
                cur.execute(sql.SQL("create database {} owner {}").format(ident, sql.Identifier(owner)))
                done.append(f"database {database} created")
            cur.execute(sql.SQL("alter database {} owner to {}").format(ident, sql.Identifier(owner)))
            cur.execute(sql.SQL("revoke all on database {} from public").format(ident))
        legacy = _exists(cur, "select from pg_roles where rolname = %s", LEGACY_SUPERUSER)
        cur.execute("select datname from pg_database where not datistemplate and datname <> 'postgres'")
        others = [d for (d,) in cur.fetchall() if d not in DATABASES]
    sources = [d for d, owner in DATABASES.items() if owner == "generator"]
    # Scratch copies of the sources (benchmarks) belong to the generator too.
    for database in [*DATABASES, *others]:
        owner = DATABASES.get(database, "generator")
        with _admin_cursor(database) as cur:
            if legacy:
                cur.execute(sql.SQL("reassign owned by {} to {}").format(legacy_role, sql.Identifier(owner)))
                cur.execute(sql.SQL("drop owned by {}").format(legacy_role))
            if database in sources:
                readers = sql.SQL(", ").join(map(sql.Identifier, SOURCE_READERS))
                cur.execute(sql.SQL("grant connect on database {} to {}").format(sql.Identifier(database), readers))
                cur.execute(sql.SQL("grant usage on schema public to {}").format(readers))
                cur.execute(sql.SQL("grant select on all tables in schema public to {}").format(readers))
                cur.execute(
                    sql.SQL(
                        "alter default privileges for role generator in schema public grant select on tables to {}"
                    ).format(readers)
                )
    if legacy:
        with _admin_cursor("postgres") as cur:
            cur.execute(sql.SQL("drop owned by {}").format(legacy_role))
            cur.execute(sql.SQL("drop role {}").format(legacy_role))
        done.append(f"the shared superuser {LEGACY_SUPERUSER} replaced by per-component roles")
    return done


def main() -> int:
    import psycopg2

    try:
        for line in bootstrap():
            print(f"postgres: {line}")
    except psycopg2.Error as e:
        print(f"postgres: setting up roles failed: {e}".rstrip(), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
