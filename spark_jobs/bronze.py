"""Bronze helpers shared by the CDC consumer (``cdc/``) and the file loader (``landing/``):
the bronze database's name, table locations, appends and table properties."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from core.settings import get_settings

# Table properties are set the same way in every layer (expectations too): re-exported here.
from schemas.spark import properties_sql as properties_sql
from schemas.spark import set_properties as set_properties

log = logging.getLogger(__name__)

# What Spark, the metastore and Delta raise when another process creates or alters the same table
# at the same moment: the other writer won, and the step, repeated, finds its work done.
CONCURRENT_CREATE_MARKERS = (
    "DELTA_PROTOCOL_CHANGED",
    "DELTA_METADATA_CHANGED",
    "ProtocolChangedException",
    "MetadataChangedException",
    "TABLE_OR_VIEW_ALREADY_EXISTS",
    "LOCATION_ALREADY_EXISTS",
    "DELTA_CREATE_TABLE_WITH_NON_EMPTY_LOCATION",
    "AlreadyExistsException",
)


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


def ddl_columns(fields: Iterable[T.StructField]) -> str:
    """Columns for CREATE TABLE or ADD COLUMNS. No NOT NULL, at any depth: the layout an empty
    frame written as a table has, which the tables made before DDL was used have."""
    return ", ".join(f"`{f.name}` {f.dataType.simpleString()}" for f in fields)


def created_concurrently(error: BaseException) -> bool:
    text = f"{type(error).__name__}: {error}"
    return any(m in text for m in CONCURRENT_CREATE_MARKERS)


def ensure_idempotently(step: Callable[[], None], what: str, attempts: int = 5, sleep=time.sleep) -> None:
    """Run an idempotent create-what-is-missing ``step``, again when another process created or
    altered the same tables at the same moment (the capture service starts its consumer and its
    apply together, and both ensure the change logs on a new warehouse)."""
    for attempt in range(1, attempts + 1):
        try:
            step()
            return
        except Exception as e:
            if attempt == attempts or not created_concurrently(e):
                raise
            log.info("%s: another process changed the same tables at the same moment; again (%d)", what, attempt)
            sleep(0.5 * attempt)


def now_utc() -> datetime:
    return datetime.now(UTC)
