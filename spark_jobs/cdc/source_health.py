"""The sources' replication slots: ``python -m spark_jobs.cdc.source_health``.

Each captured database has a logical replication slot (Debezium's). While its connector is
down the slot holds back WAL; ``max_slot_wal_keep_size`` (``infra/postgres/postgresql.conf``)
caps that, and a slot past the cap is invalidated (``wal_status`` ``lost``): its changes can no
longer be streamed and the table needs a re-snapshot (``recover``). The consumer checks the
slots on every run, records them in ``ops.source_health`` and alerts on a slot that is missing,
``unreserved`` or ``lost``, or lagging more than ``LAKEHOUSE_SLOT_LAG_ALERT_MB``.
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass
from datetime import datetime

import psycopg2
from pyspark.sql import SparkSession
from pyspark.sql import types as T

from core import alerts, pg_roles
from core.settings import get_settings

HEALTH_TABLE = "ops.source_health"
HEALTH_SCHEMA = T.StructType(
    [
        T.StructField("source", T.StringType(), False),
        T.StructField("slot_name", T.StringType(), True),
        T.StructField("active", T.BooleanType(), True),
        T.StructField("wal_status", T.StringType(), True),
        T.StructField("lag_bytes", T.LongType(), True),
        T.StructField("safe_wal_bytes", T.LongType(), True),
        T.StructField("problem", T.StringType(), True),
        T.StructField("checked_at", T.TimestampType(), False),
    ]
)


@dataclass(frozen=True)
class Slot:
    source: str
    slot_name: str | None
    active: bool | None
    wal_status: str | None
    lag_bytes: int | None  # WAL after what the connector confirmed
    safe_wal_bytes: int | None  # WAL that may still be written before the slot is lost

    def problem(self, lag_limit_bytes: int) -> str | None:
        if self.slot_name is None:
            return f"{self.source}: no replication slot: changes are not captured (is its connector registered?)"
        if self.wal_status == "lost":
            return (
                f"{self.source}: slot {self.slot_name} is lost (past max_slot_wal_keep_size): its changes cannot "
                f"be streamed; recreate the connector and re-snapshot (python -m spark_jobs.cdc.recover)"
            )
        if self.wal_status == "unreserved":
            return f"{self.source}: slot {self.slot_name} is about to be lost ({self.safe_wal_bytes} bytes of WAL left)"
        if self.lag_bytes is not None and self.lag_bytes > lag_limit_bytes:
            return (
                f"{self.source}: slot {self.slot_name} holds back {self.lag_bytes / 2**20:.0f} MiB of WAL "
                f"(over {lag_limit_bytes / 2**20:.0f} MiB; active: {self.active}): is Kafka Connect running?"
            )
        return None


def read_slots(sources: list[str]) -> list[Slot]:
    """One ``Slot`` per captured database (slot_name None when it has none)."""
    slots = []
    for source in sources:
        with psycopg2.connect(pg_roles.source_dsn(source, "pipeline")) as conn, conn.cursor() as cur:
            cur.execute(
                "select slot_name, active, wal_status, (pg_current_wal_lsn() - confirmed_flush_lsn)::bigint, "
                "safe_wal_size from pg_replication_slots where slot_type = 'logical' and database = current_database()"
            )
            rows = cur.fetchall()
        slots.extend([Slot(source, *r) for r in rows] or [Slot(source, None, None, None, None, None)])
    return slots


def check(spark: SparkSession | None, sources: list[str], at: datetime) -> list[tuple[Slot, str | None]]:
    """Read the slots, record them (when given a session) and alert on the problems; returns
    each slot with its problem (None when healthy)."""
    limit = get_settings().slot_lag_alert_mb * 2**20
    checked = [(s, s.problem(limit)) for s in read_slots(sources)]
    if spark is not None:
        spark.sql("create database if not exists ops")
        df = spark.createDataFrame([(*asdict(s).values(), p, at) for s, p in checked], HEALTH_SCHEMA)
        mode = "append" if spark.catalog.tableExists(HEALTH_TABLE) else "errorifexists"
        df.write.format("delta").mode(mode).saveAsTable(HEALTH_TABLE)
    try:
        alerts.post("replication slot", [p for _, p in checked if p], [asdict(s) for s, p in checked if p])
    except alerts.AlertDeliveryError as e:  # logged by post; capture goes on
        print(f"source health: alert not delivered: {e}", file=sys.stderr)
    return checked


def main() -> int:
    from datetime import UTC

    from spark_jobs.cdc.changes import CDC_SOURCES

    checked = check(None, list(CDC_SOURCES), datetime.now(UTC))
    for s, problem in checked:
        print(
            f"{s.source}: slot {s.slot_name} wal_status={s.wal_status} lag={s.lag_bytes}B "
            f"active={s.active}: {problem or 'ok'}"
        )
    return 1 if any(p for _, p in checked) else 0


if __name__ == "__main__":
    sys.exit(main())
