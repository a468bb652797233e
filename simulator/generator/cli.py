"""Generate the operator's source data: ``python -m simulator.generator [options]``.

CRM and BSS tables go into PostgreSQL (an idempotent sync), network KPIs (CSV) and app logs
(gzip JSON lines) into the landing zone, and the ground-truth manifest beside them.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from dataclasses import fields
from datetime import date
from pathlib import Path

import psycopg2
from tqdm import tqdm

from core.settings import get_settings
from schemas.contracts import get_contract
from simulator.generator import app_events, business, landing, network
from simulator.generator.config import DefectRates, GeneratorConfig, GeneratorError
from simulator.generator.manifest import Manifest

MANIFEST_NAME = "_manifest.json"


def default_landing() -> Path:
    return Path(get_settings().landing_dir)


def build_tables(cfg: GeneratorConfig, m: Manifest, step=lambda label: None):
    """The CRM and BSS tables (by qualified name), the population behind them, and the cells."""
    crm, subs, people = business.customers(cfg, m)
    step("customers")
    products = business.products_table(cfg)
    step("products")
    orders = business.orders(cfg, people, m)
    step("orders")
    usage = business.monthly_usage(cfg, people, subs)
    step("usage")
    tickets = business.service_tickets(cfg, people, crm)
    step("tickets")
    cells = network.cells(cfg)
    step("cells")
    tables = {
        "crm.customers": crm,
        "crm.service_tickets": tickets,
        "bss.products": products,
        "bss.subscribers": subs,
        "bss.orders": orders,
        "bss.monthly_usage": usage,
    }
    for name, t in tables.items():
        m.rows[name] = t.num_rows
    m.rows["network.cells"] = cells.num_rows
    return tables, people, cells


def generate(cfg: GeneratorConfig, landing_dir: Path | None, load_db: bool, show_progress: bool = True) -> Manifest:
    """Generate everything; write files under ``landing_dir`` (if given) and load PostgreSQL."""
    m = Manifest(cfg.seed, cfg.scale)
    steps = 6 + (cfg.days * 2 if landing_dir else 0) + (6 if load_db else 0)
    bar = tqdm(total=steps, desc="generate", unit="step", disable=not show_progress, file=sys.stderr, mininterval=1.0)

    def step(label: str):
        bar.set_postfix_str(label)
        bar.update(1)

    tables, people, cells = build_tables(cfg, m, step)
    if landing_dir:
        if landing_dir.exists() and any(landing_dir.iterdir()):
            if not (landing_dir / MANIFEST_NAME).exists():
                raise GeneratorError(
                    f"{landing_dir} is not empty and holds no {MANIFEST_NAME}: "
                    "refusing to replace a folder this generator did not write"
                )
            shutil.rmtree(landing_dir)  # the landing zone is this generator's output: start clean
        landing.write_cells(cfg, cells, landing_dir, m)
        kpi_rows = 0
        for day in range(cfg.days):
            kpis = network.cell_kpis_day(cfg, cells, day, m.truth)
            landing.write_kpi_day(cfg, kpis, day, landing_dir, m)
            kpi_rows += kpis.num_rows
            step(f"kpis day {day + 1}")
        m.rows["network.cell_kpis"] = kpi_rows
        events = app_events.events(cfg, people)
        landing.write_app_events(cfg, events, landing_dir, m, progress=lambda _: step("app events"))
        m.write(landing_dir / MANIFEST_NAME)

    if load_db:
        from simulator.generator.pg_load import sync_table

        for name, t in tables.items():
            m.loads[name] = sync_table(get_contract(name), t)
            step(f"load {name}")
        if landing_dir:
            m.write(landing_dir / MANIFEST_NAME)
    bar.close()
    return m


def _parse_rate(text: str) -> tuple[str, float]:
    name, _, value = text.partition("=")
    known = {f.name for f in fields(DefectRates)}
    if name not in known:
        raise GeneratorError(f"unknown defect {name!r}; known: {', '.join(sorted(known))}")
    try:
        return name, (int(value) if name.endswith("_files") else float(value))
    except ValueError:
        raise GeneratorError(f"defect {name} needs a number, got {value!r}") from None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--scale",
        type=float,
        default=0.01,
        help="scale factor; 1 = ~100k customers, ~1M orders, ~10M app events (default 0.01)",
    )
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--start", type=date.fromisoformat, default=date(2026, 10, 1), help="first day (YYYY-MM-DD)")
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--landing", type=Path, default=None, help="landing zone folder (default $LAKEHOUSE_HOME/landing)")
    p.add_argument("--no-db", action="store_true", help="do not load PostgreSQL")
    p.add_argument("--no-files", action="store_true", help="do not write the landing zone")
    p.add_argument("--clean", action="store_true", help="plant no defects")
    p.add_argument(
        "--defect", action="append", default=[], metavar="NAME=VALUE", help="override one defect rate or file count"
    )
    args = p.parse_args(argv)
    try:
        base = DefectRates.none() if args.clean else DefectRates()
        overrides = dict(_parse_rate(t) for t in args.defect)
        rates = DefectRates(**{**{f.name: getattr(base, f.name) for f in fields(DefectRates)}, **overrides})
        cfg = GeneratorConfig(scale=args.scale, seed=args.seed, start=args.start, days=args.days, defects=rates)
    except GeneratorError as e:
        p.error(str(e))
    landing_dir = None if args.no_files else (args.landing or default_landing())
    t0 = time.monotonic()
    try:
        m = generate(cfg, landing_dir, load_db=not args.no_db)
    except GeneratorError as e:
        p.error(str(e))
    except psycopg2.OperationalError as e:
        s = get_settings()
        print(
            f"generator: cannot reach PostgreSQL at {s.pg_host}:{s.pg_port} ({e}). "
            "Start it (infra/stack.sh start postgres) or pass --no-db",
            file=sys.stderr,
        )
        return 1
    _print_summary(cfg, m, time.monotonic() - t0, landing_dir, loaded_db=not args.no_db)
    return 0


def _print_summary(cfg: GeneratorConfig, m: Manifest, secs: float, landing_dir: Path | None, loaded_db: bool) -> None:
    total = sum(m.rows.values())
    print(f"\ngenerated {total:,} rows in {secs:.1f}s ({total / secs:,.0f} rows/s), scale {cfg.scale}, seed {cfg.seed}")
    for name, n in sorted(m.rows.items()):
        print(f"  {name:<22} {n:>12,}")
    print("defects planted:")
    for name, d in sorted(m.defects.items()):
        print(f"  {name:<26} {d['count']:>9,}  in {d['table']}")
    if landing_dir:
        print(f"landing zone: {landing_dir} ({len(m.files)} files), manifest {landing_dir / MANIFEST_NAME}")
    if loaded_db:
        s = get_settings()
        print(f"PostgreSQL: crm and bss databases on {s.pg_host}:{s.pg_port}")


if __name__ == "__main__":
    sys.exit(main())
