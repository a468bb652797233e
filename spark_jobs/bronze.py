"""Bronze helpers shared by the CDC consumer (``cdc/``) and the file loader (``landing/``):
the bronze database's name, table locations, appends and table properties."""

from __future__ import annotations

from datetime import UTC, datetime

from pyspark.sql import DataFrame, SparkSession

from core.settings import get_settings


def bronze_db() -> str:
    """The bronze database (``LAKEHOUSE_BRONZE_DB``): benchmarks and tests land a copy of their own."""
    return get_settings().bronze_db


def table_name(name: str) -> str:
    return f"{bronze_db()}.{name}"


def table_location(spark: SparkSession, table: str) -> str:
    detail = spark.sql(f"describe detail {table}").first()
    if detail is None:
        raise LookupError(f"no table {table}")
    return detail.location


def append(df: DataFrame, table: str, location: str | None = None) -> None:
    """Append to a Delta table; by its location when known, which skips the metastore round trips."""
    if location:
        df.write.format("delta").mode("append").save(location)
    else:
        df.write.format("delta").mode("append").saveAsTable(table)


def set_properties(spark: SparkSession, table: str, wanted: dict[str, str]) -> None:
    """Set the table properties that differ from ``wanted`` (one ALTER, none when all match)."""
    have = {r.key: r.value for r in spark.sql(f"show tblproperties {table}").collect()}
    changed = {k: v for k, v in wanted.items() if have.get(k) != v}
    if changed:
        props = ", ".join(f"{k!r} = {v!r}" for k, v in changed.items())
        spark.sql(f"alter table {table} set tblproperties ({props})")


def now_utc() -> datetime:
    return datetime.now(UTC)
