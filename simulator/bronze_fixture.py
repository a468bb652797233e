"""Generated source data written straight into bronze-shaped tables: what the CDC and file
pipelines hold once they have loaded it, without running them (they have their own tests).
dbt's known-answer tests and its benchmark build on it, in a bronze database of their own:

``python -m simulator.bronze_fixture --scale 0.002 --bronze-db kat_bronze [--change 0.01]``

``--change`` then applies a change of that share of the rows (updated orders, tickets,
customers and plans; a new day of app events and cell KPIs) the way the pipelines would, and
the planted price change (``price_change``).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyspark.sql import functions as F

from schemas.contracts import Contract, get_contract
from simulator.generator import app_events, network
from simulator.generator.cli import build_tables
from simulator.generator.common import US_PER_DAY, phone_variants, pick_rows, stream
from simulator.generator.config import GeneratorConfig
from simulator.generator.manifest import Manifest
from spark_jobs.bronze import ddl_columns
from spark_jobs.cdc.changes import change_log_schema, topic_for
from spark_jobs.cdc.current_state import current_schema
from spark_jobs.landing.feeds import Feed
from spark_jobs.landing.parse import partition_values
from spark_jobs.landing.tables import feed_schema

UTC_US = pa.timestamp("us", tz="UTC")
# The change logs the models read besides the current state (the product price history's),
# written with it as Debezium's initial snapshot would.
CHANGE_LOGS = ("bss.products",)
PRICE_RISE = Decimal("10.00")


def generate(cfg: GeneratorConfig, m: Manifest | None = None) -> dict[str, pa.Table]:
    """Every source table by qualified name, as the sources hold it (file feeds without the
    file-level defects the loader removes: duplicates, broken lines and files); the ground truth
    goes to ``m`` when given."""
    m = m or Manifest(cfg.seed, cfg.scale)
    tables, people, cells = build_tables(cfg, m)
    kpis = pa.concat_tables([network.cell_kpis_day(cfg, cells, d, m.truth) for d in range(cfg.days)])
    ev = app_events.events(cfg, people)
    # A share of events carry the phone as people type it; the models must unify them.
    rng = stream(cfg.seed, "fixture-app-phones")
    phones = ev["user_phone"].astype(object)
    variants = pick_rows(rng, len(phones), np.zeros(len(phones), bool), cfg.defects.phone_format_variants)
    phones[variants] = phone_variants(rng, phones[variants].astype(str))
    events = pa.table(
        {
            "event_id": ev["event_id"],
            "user_phone": pa.array(phones.tolist(), pa.string()),
            "device_id": ev["device_id"],
            "event_type": ev["event_type"],
            "event_at": pa.array(ev["event_at_us"], pa.int64()).cast(UTC_US),
            "app_version": ev["app_version"],
            "channel": ev["channel"],
            "bytes": pa.array(ev["bytes"], mask=ev["bytes"] < 0),
            "duration_s": pa.array(ev["duration_s"].astype(np.int32), mask=ev["duration_s"] < 0),
        }
    )
    return {**tables, "network.cells": cells, "network.cell_kpis": kpis, "app.events": events}


def _utc(table: pa.Table) -> pa.Table:
    """Naive timestamps are UTC instants, as Debezium and the loader store them."""
    cols = [c.cast(UTC_US) if pa.types.is_timestamp(c.type) and c.type.tz is None else c for c in table.columns]
    return pa.table(cols, names=table.column_names)


def bronze_shaped(name: str, table: pa.Table) -> pa.Table:
    """The table with the lineage columns its bronze table carries (a feed's date partition is
    added when written, by the loader's own rule)."""
    contract = get_contract(name)
    table = _utc(table.select(contract.column_names))
    n = table.num_rows
    now = pa.array(np.full(n, np.datetime64(datetime.now(UTC).replace(tzinfo=None), "us"))).cast(UTC_US)
    if contract.is_database_table:
        keys = table.select(contract.primary_key).to_pylist()
        offsets = pa.array(np.arange(n, dtype=np.int64))
        extra = {
            "_key": [json.dumps(k, default=str, sort_keys=True) for k in keys],
            "_commit_lsn": offsets,
            "_lsn": offsets,
            "_kafka_offset": offsets,
            "_source_ts": table.column("updated_at"),
            "_is_deleted": pa.array(np.zeros(n, bool)),
            "_applied_at": now,
        }
    else:
        extra = {
            "_rescued_data": pa.nulls(n, pa.string()),
            "_source_file": pa.repeat("bronze_fixture", n),
            "_line_number": pa.array(np.arange(1, n + 1, dtype=np.int64)),
            "_ingested_at": now,
        }
    for col, values in extra.items():
        table = table.append_column(
            col, values if isinstance(values, (pa.Array, pa.ChunkedArray)) else pa.array(values)
        )
    return table


def table_name(bronze_db: str, qualified_name: str) -> str:
    source, name = qualified_name.split(".")
    return f"{bronze_db}.{source}_{name}"


def change_log_name(bronze_db: str, qualified_name: str) -> str:
    return f"{table_name(bronze_db, qualified_name)}_changes"


def _log_changes(spark, bronze_db: str, name: str, op: str, where: str = "true", **after: str) -> None:
    """Append to the table's change log the events CDC lands for its current-state rows
    ``where``: snapshot reads (op r), or updates (op u) to the values ``after`` (SQL)."""
    contract = get_contract(name)
    current, log = table_name(bronze_db, name), change_log_name(bronze_db, name)
    before = "null" if op == "r" else "struct(" + ", ".join(f"`{c}`" for c in contract.column_names) + ")"
    image = "struct(" + ", ".join(f"{after.get(c, f'`{c}`')} as `{c}`" for c in contract.column_names) + ")"
    # positions after the log's last event, as a later commit has
    spark.sql(
        f"insert into {log} select _key, '{op}', {before}, {image}, current_timestamp(), null, "
        f"logged.n + _lsn, logged.n + _commit_lsn, {op == 'r'}, null, '{topic_for(contract)}', 0, "
        f"logged.n + _kafka_offset, current_timestamp() "
        f"from {current} cross join (select count(*) as n from {log}) as logged where {where}"
    )


@dataclass(frozen=True)
class PriceChange:
    """The planted price change: the most ordered product's price rises an hour after the newest
    order, and two orders follow it, one at the old price (wrong now), one at the new."""

    product_id: int
    old_price: Decimal
    new_price: Decimal
    changed_at: datetime  # the new version's updated_at (UTC, naive as the generator's)
    product: pa.Table  # the product's new version, a bss.products row
    orders: pa.Table  # bss.orders rows: at the old price, then at the new


def price_change(data: dict[str, pa.Table]) -> PriceChange:
    """The planted price change of the generated ``data`` (deterministic: the known-answer test
    recomputes it)."""
    orders, products = data["bss.orders"], data["bss.products"]
    counts = orders.column("product_id").to_pandas().value_counts().sort_index()
    pid = int(counts.idxmax())
    (product,) = products.filter(pc.equal(products["product_id"], pid)).to_pylist()
    old, new = product["price"], product["price"] + PRICE_RISE
    changed_at = pc.max(orders["created_at"]).as_py() + timedelta(hours=1)
    mine = orders.filter(pc.equal(orders["product_id"], pid))
    template = mine.slice(pc.index(mine["created_at"], pc.max(mine["created_at"])).as_py(), 1).to_pylist()[0]
    planted = []
    for n, amount in enumerate((old, new), start=1):
        created = changed_at + timedelta(hours=n)
        shift = created - template["created_at"]
        row = {c: v + shift if isinstance(v, datetime) else v for c, v in template.items()}
        row.update(order_id=f"{template['business_type']}{created:%Y%m%d}{999_990 + n}", amount=amount)
        planted.append(row)
    return PriceChange(
        product_id=pid,
        old_price=old,
        new_price=new,
        changed_at=changed_at,
        product=pa.Table.from_pylist([{**product, "price": new, "updated_at": changed_at}], schema=products.schema),
        orders=pa.Table.from_pylist(planted, schema=orders.schema),
    )


def _bronze_schema(contract: Contract):
    """The pipeline's own schema of the bronze table: current state, or file feed."""
    return current_schema(contract) if contract.is_database_table else feed_schema(Feed(contract))


def _write(spark, bronze_db: str, name: str, table: pa.Table, mode: str, tmp: Path) -> None:
    path = tmp / name.replace(".", "_")
    contract = get_contract(name)
    feed = Feed(contract)
    if feed.partition:
        table = table.append_column(feed.partition[0], partition_values(table, feed))
    pq.write_table(table, str(path) + ".parquet")
    df = spark.read.parquet(str(path) + ".parquet")
    df = df.select(*[F.col(f.name).cast(f.dataType) for f in _bronze_schema(contract)])
    writer = df.write.format("delta").mode(mode)
    if mode == "overwrite":  # a contract may have gained a column since the table was written
        writer = writer.option("overwriteSchema", "true")
        if feed.partition:
            writer = writer.partitionBy(feed.partition[0])
    writer.saveAsTable(table_name(bronze_db, name))


def _progress(line: str) -> None:
    print(line, flush=True)


def write(spark, data: dict[str, pa.Table], bronze_db: str, progress=_progress) -> dict[str, int]:
    """Replace the bronze database's tables with ``data``; returns rows per table."""
    spark.sql(f"create database if not exists {bronze_db}")
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, table in data.items():
            t0 = time.monotonic()
            _write(spark, bronze_db, name, bronze_shaped(name, table), "overwrite", Path(tmp))
            rows[name] = table.num_rows
            progress(f"  {table_name(bronze_db, name):<32} {table.num_rows:>11,} rows  {time.monotonic() - t0:5.1f}s")
    for name in CHANGE_LOGS:
        if name in data:
            columns = ddl_columns(change_log_schema(get_contract(name)).fields)
            spark.sql(f"create or replace table {change_log_name(bronze_db, name)} ({columns}) using delta")
            _log_changes(spark, bronze_db, name, "r")
    return rows


def change(spark, data: dict[str, pa.Table], bronze_db: str, share: float, progress=_progress) -> dict[str, int]:
    """Change ``share`` of the rows as the pipelines would land it: updates merged into the
    current-state tables (newer _applied_at), as many orders deleted (tombstones), a new day of app
    events and cell KPIs appended (newer _ingested_at), and the planted price change
    (``price_change``). Returns rows changed per table."""
    changed = {}
    updates = {
        "bss.orders": (
            "order_id",
            "status = case when status in ('PENDING_PAY', 'ACTIVE') then 'CANCELLED' "
            "when status = 'CANCELLED' then 'ACTIVE' else 'void' end",
        ),
        "crm.service_tickets": ("ticket_id", "satisfaction_score = 5, status = 'closed'"),
        "crm.customers": ("customer_id", "city = concat(city, ' New District')"),
        "bss.subscribers": ("subscriber_id", "plan_product_id = case when plan_product_id = 6 then 5 else 6 end"),
    }
    buckets = max(1, round(1 / share))
    for name, (key, assignment) in updates.items():
        target = table_name(bronze_db, name)
        where = f"pmod(hash({key}), {buckets}) = 0"
        n = spark.sql(f"select count(*) from {target} where {where}").first()[0]
        spark.sql(
            f"update {target} set {assignment}, updated_at = current_timestamp(), "
            f"_applied_at = current_timestamp() where {where}"
        )
        changed[name] = n
        progress(f"  {target:<32} {n:>11,} rows updated")
    # Deleted orders stay as tombstones in the current state, as the CDC apply keeps them.
    target = table_name(bronze_db, "bss.orders")
    where = f"pmod(hash(order_id), {buckets}) = 1"
    n = spark.sql(f"select count(*) from {target} where {where}").first()[0]
    spark.sql(f"update {target} set _is_deleted = true, _applied_at = current_timestamp() where {where}")
    changed["bss.orders deleted"] = n
    progress(f"  {target:<32} {n:>11,} rows deleted")
    # The price change: the product's update event, then its current state; the orders after it.
    plan = price_change(data)
    where = f"product_id = {plan.product_id}"
    values = {"price": f"cast({plan.new_price} as decimal(10,2))", "updated_at": f"timestamp'{plan.changed_at}'"}
    _log_changes(spark, bronze_db, "bss.products", "u", where, **values)
    target = table_name(bronze_db, "bss.products")
    assignments = ", ".join(f"{c} = {v}" for c, v in values.items())
    spark.sql(f"update {target} set {assignments}, _applied_at = current_timestamp() where {where}")
    changed["bss.products"] = 1
    progress(f"  {target:<32} {1:>11,} rows updated (a price change)")
    planted = ", ".join(f"'{o}'" for o in plan.orders["order_id"].to_pylist())
    spark.sql(f"delete from {table_name(bronze_db, 'bss.orders')} where order_id in ({planted})")  # a rerun's
    with tempfile.TemporaryDirectory() as tmp:
        _write(spark, bronze_db, "bss.orders", bronze_shaped("bss.orders", plan.orders), "append", Path(tmp))
        changed["bss.orders after the price change"] = plan.orders.num_rows
        progress(f"  {table_name(bronze_db, 'bss.orders'):<32} {plan.orders.num_rows:>11,} rows appended (priced)")
        for name, ts_col, id_col in (
            ("app.events", "event_at", "event_id"),
            ("network.cell_kpis", "period_start", None),
        ):
            table = data[name]
            k = max(1, int(round(share * table.num_rows)))
            tail = table.slice(table.num_rows - k)  # the last day's latest rows (both tables are in day order)
            # the day after the newest one in bronze, so repeated changes each add a new day
            newest = spark.sql(f"select unix_micros(max({ts_col})) from {table_name(bronze_db, name)}").first()[0]
            last = pc.cast(tail.column(ts_col), pa.int64())[-1].as_py()
            days = (newest - last) // US_PER_DAY + 1
            shift = pa.scalar(days * US_PER_DAY, pa.duration("us"))
            shifted = tail.set_column(tail.schema.get_field_index(ts_col), ts_col, pc.add(tail.column(ts_col), shift))
            if id_col:
                shifted = shifted.set_column(
                    shifted.schema.get_field_index(id_col),
                    id_col,
                    pc.binary_join_element_wise(shifted.column(id_col), pa.scalar(f"d{days}"), ""),
                )
            _write(spark, bronze_db, name, bronze_shaped(name, shifted), "append", Path(tmp))
            changed[name] = shifted.num_rows
            progress(f"  {table_name(bronze_db, name):<32} {shifted.num_rows:>11,} rows appended (a new day)")
    return changed


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scale", type=float, default=0.002)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--bronze-db", required=True, help="bronze database to (re)write, e.g. kat_bronze")
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--monthly-churn", type=float, default=GeneratorConfig.monthly_churn)
    p.add_argument("--truth", type=Path, default=None, help="write the ground truth (terminations, faults) here")
    p.add_argument("--change", type=float, default=None, help="instead: change this share of the rows (e.g. 0.01)")
    args = p.parse_args(argv)
    if args.bronze_db in ("bronze", "default"):
        p.error(f"refusing to overwrite the pipeline's own database {args.bronze_db!r}")
    from core.session import get_spark

    t0 = time.monotonic()
    cfg = GeneratorConfig(scale=args.scale, seed=args.seed, days=args.days, monthly_churn=args.monthly_churn)
    m = Manifest(cfg.seed, cfg.scale)
    data = generate(cfg, m)
    if args.truth:
        args.truth.write_text(json.dumps(m.truth))
    _progress(f"generated scale {cfg.scale} in {time.monotonic() - t0:.1f}s")
    spark = get_spark("bronze-fixture")
    if args.change is None:
        rows = write(spark, data, args.bronze_db)
        print(
            f"bronze fixture: {sum(rows.values()):,} rows in {len(rows)} tables of {args.bronze_db} "
            f"in {time.monotonic() - t0:.1f}s"
        )
    else:
        rows = change(spark, data, args.bronze_db, args.change)
        print(
            f"bronze fixture: changed {sum(rows.values()):,} rows in {args.bronze_db} in {time.monotonic() - t0:.1f}s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
