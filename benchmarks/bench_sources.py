"""Benchmark the source systems: generation at a scale factor, the bulk load into PostgreSQL,
and the changes/s the OLTP workload sustains.

``python benchmarks/bench_sources.py [--scale 1] [--workload-seconds 30]``

Loads into scratch databases ``crm_bench`` / ``bss_bench`` (created from the contracts), which
no Debezium connector captures, so the live CDC pipeline is not flooded.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import psycopg2

from core import pg_roles
from core.settings import override_settings

SUFFIX = "_bench"


def prepare_databases() -> None:
    conn = psycopg2.connect(pg_roles.dsn("postgres", "generator"))
    conn.autocommit = True
    with conn.cursor() as cur:
        for source in ("crm", "bss"):
            cur.execute("select 1 from pg_database where datname = %s", (source + SUFFIX,))
            if not cur.fetchone():
                cur.execute(f"create database {source}{SUFFIX}")
    conn.close()
    from schemas.apply_ddl import apply_ddl

    apply_ddl()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--workload-seconds", type=float, default=30)
    args = p.parse_args()
    override_settings(source_db_suffix=SUFFIX)
    prepare_databases()

    from simulator.generator.cli import generate
    from simulator.generator.config import GeneratorConfig
    from simulator.workload import Workload

    cfg = GeneratorConfig(scale=args.scale)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.monotonic()
        files_only = generate(cfg, Path(tmp) / "landing", load_db=False)
        gen_s = time.monotonic() - t0
        t0 = time.monotonic()
        loaded = generate(cfg, None, load_db=True)
        load_s = time.monotonic() - t0
    rows = sum(files_only.rows.values())
    db_rows = sum(v for k, v in loaded.rows.items() if k.split(".")[0] in ("crm", "bss"))
    w = Workload(seed=1)
    try:
        stats = w.run(rate=1e9, duration_s=args.workload_seconds)
    finally:
        w.close()
    print(f"\nsources benchmark at scale {args.scale}")
    print(f"  generate (all feeds, files)   {rows:>12,} rows  {gen_s:7.1f} s  {rows / gen_s:>10,.0f} rows/s")
    print(f"  generate + load PostgreSQL    {db_rows:>12,} rows  {load_s:7.1f} s  {db_rows / load_s:>10,.0f} rows/s")
    print(
        f"  OLTP workload, unthrottled    {stats.changes:>12,} changes {stats.seconds:5.1f} s  "
        f"{stats.rate:>10,.0f} changes/s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
