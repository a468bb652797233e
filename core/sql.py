"""Queries through the Spark Thrift Server, the SQL endpoint analysts and BI tools use."""

from __future__ import annotations

from contextlib import closing

from pyhive import hive

from core.directory import password, serves_pipeline
from core.settings import get_settings


def sql_connect(user: str = "pipeline", **kwargs) -> hive.Connection:
    """A HiveServer2 connection logged in as ``user`` (LDAP; password from the secret store), to
    the endpoint of its role: the pipeline's, or the read-only serving endpoint."""
    s = get_settings()
    port = s.thrift_port if serves_pipeline(user) else s.serving_port
    return hive.connect(host=s.bind_host, port=port, auth="LDAP", username=user, password=password(user), **kwargs)


def thrift_query(sql: str, user: str = "pipeline") -> list[tuple]:
    """Run one statement on a fresh connection: each connection is its own Spark session and
    caches the tables it has read, so a new one always sees the latest commits."""
    with closing(sql_connect(user)) as conn, closing(conn.cursor()) as cur:
        cur.execute(sql)
        return cur.fetchall() if cur.description else []
