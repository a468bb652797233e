"""Queries through the Spark Thrift Server, the SQL endpoint analysts and BI tools use."""

from __future__ import annotations

from contextlib import closing

from pyhive import hive

from core.settings import get_settings


def thrift_query(sql: str) -> list[tuple]:
    """Run one statement on a fresh connection: each connection is its own Spark session and
    caches the tables it has read, so a new one always sees the latest commits."""
    s = get_settings()
    with (
        closing(hive.connect(host=s.bind_host, port=s.thrift_port, username="lakehouse")) as conn,
        closing(conn.cursor()) as cur,
    ):
        cur.execute(sql)
        return cur.fetchall() if cur.description else []
