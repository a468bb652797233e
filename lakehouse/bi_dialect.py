"""SQLAlchemy's ``hive+spark://`` dialect: PyHive's Hive dialect, corrected for the Spark Thrift
Server, for BI tools that browse the catalog through SQLAlchemy (Superset among them).

PyHive's ``hive://`` takes the first column of ``SHOW TABLES`` as the table's name: Spark puts
the namespace there, so every table is listed under its schema's name; its column reflection
stops only at Hive's ``# Partition Information`` marker, not Spark's ``# Partitioning``, and
drops the columns' comments. Here tables, views, columns and comments come out as they are:

    hive+spark://analyst:<password>@127.0.0.1:10001/gold?auth=LDAP

(registered under ``sqlalchemy.dialects`` in ``pyproject.toml``; the password percent-encoded).
"""

from __future__ import annotations

import re

from pyhive.sqlalchemy_hive import HiveDialect, _type_map
from sqlalchemy import text, types

# Spark's type names PyHive's map lacks.
_SPARK_TYPES = {**_type_map, "timestamp_ntz": types.TIMESTAMP, "integer": types.INTEGER, "long": types.BIGINT}


class SparkThriftDialect(HiveDialect):
    name = "hive"
    driver = "spark"
    supports_statement_cache = False

    def _in(self, schema: str | None) -> str:
        return f" IN {self.identifier_preparer.quote_identifier(schema)}" if schema else ""

    def get_view_names(self, connection, schema=None, **kw):
        return [row.viewName for row in connection.execute(text("SHOW VIEWS" + self._in(schema)))]

    def get_table_names(self, connection, schema=None, **kw):
        views = set(self.get_view_names(connection, schema))
        rows = connection.execute(text("SHOW TABLES" + self._in(schema)))
        return [row.tableName for row in rows if not row.isTemporary and row.tableName not in views]

    def _describe(self, connection, table_name, schema):
        """The ``DESCRIBE`` rows of the table's own columns (Spark adds partitioning and details
        after the first ``#`` row)."""
        rows = self._get_table_columns(connection, table_name, schema)
        columns = []
        for row in rows:
            name = (row[0] or "").strip()
            if not name or name.startswith("#"):
                break
            columns.append((name, (row[1] or "").strip(), row[2]))
        return columns

    def get_columns(self, connection, table_name, schema=None, **kw):
        result = []
        for name, col_type, comment in self._describe(connection, table_name, schema):
            base = re.match(r"\w+", col_type)
            result.append(
                {
                    "name": name,
                    "type": _SPARK_TYPES.get(base.group(0).lower() if base else "", types.NullType),
                    "nullable": True,
                    "default": None,
                    "comment": comment or None,
                }
            )
        return result

    def get_table_comment(self, connection, table_name, schema=None, **kw):
        full = ".".join(self.identifier_preparer.quote_identifier(p) for p in (schema, table_name) if p)
        rows = connection.execute(text(f"DESCRIBE TABLE EXTENDED {full}")).fetchall()
        comment = next((r[1] for r in rows if (r[0] or "").strip() == "Comment"), None)
        return {"text": comment or None}
