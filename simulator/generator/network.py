"""Cell inventory and 15-minute cell KPIs: a diurnal load curve per cell; before a fault (an
outage: major alarms, dropped calls) the cell climbs to saturation with minor alarms for 1-6
hours, and some cells show the same signs with no fault after them."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from simulator.generator.catalogue import REGIONS
from simulator.generator.common import US_PER_DAY, epoch_us, stream, to_datetime64
from simulator.generator.config import GeneratorConfig

PERIOD_US = 15 * 60 * 1_000_000
PERIODS_PER_DAY = 96


def cells(cfg: GeneratorConfig) -> pa.Table:
    rng = stream(cfg.seed, "cells")
    n = cfg.n_cells
    rat = np.where(rng.random(n) < 0.4, "5G", "4G")
    return pa.table(
        {
            "cell_id": np.char.add("C", np.char.zfill(np.arange(1, n + 1).astype(str), 6)),
            "site_id": np.char.add("S", np.char.zfill((np.arange(n) // 3 + 1).astype(str), 5)),
            "region": np.array(REGIONS)[rng.integers(0, len(REGIONS), n)],
            "rat": rat,
            "capacity_mbps": np.where(rat == "5G", 1000, 150).astype(np.int32),
            "latitude": np.round(39.9 + rng.normal(0, 0.08, n), 6),
            "longitude": np.round(116.4 + rng.normal(0, 0.1, n), 6),
            # The inventory's last change of each cell, within the year before the export (whole
            # seconds, as the NMS writes it); drawn last so the columns above keep their values.
            "updated_at": to_datetime64(
                epoch_us(cfg.start) - rng.integers(1, 365 * US_PER_DAY // 1_000_000, n) * 1_000_000
            ),
        }
    )


def cell_kpis_day(cfg: GeneratorConfig, cells_table: pa.Table, day: int, truth: dict | None = None) -> pa.Table:
    """One day's KPIs for every cell (cells x 96 periods); deterministic per day. The day's
    faults and false precursors are appended to ``truth`` (the manifest's) when given."""
    rng = stream(cfg.seed, f"kpis-{day}")
    n = cells_table.num_rows
    cell_rng = stream(cfg.seed, "cell-profile")  # the same busy-ness every day
    busy = cell_rng.beta(2, 3, n) * 0.9 + 0.1
    hours = (np.arange(PERIODS_PER_DAY) / 4.0 + 8) % 24  # local time (UTC+8)
    curve = 0.25 + 0.75 * np.exp(-((hours - 20.5) ** 2) / 18) + 0.35 * np.exp(-((hours - 11) ** 2) / 8)
    load = busy[:, None] * curve[None, :] * 85 + rng.normal(0, 4, (n, PERIODS_PER_DAY))
    alarm = np.zeros((n, PERIODS_PER_DAY), dtype=np.int32)
    outage = np.zeros((n, PERIODS_PER_DAY), dtype=bool)
    faults = _precursors(rng, load, alarm, rng.random(n) < FAULT_RATE * busy)
    false_alarms = _precursors(rng, load, alarm, rng.random(n) < FALSE_PRECURSOR_RATE * busy)
    for c, at in faults:
        outage[c, at : at + rng.integers(1, 5)] = True
    alarm[outage] = rng.integers(3, 7, int(outage.sum()))
    load = np.clip(load, 0, 100)
    util = np.clip(load * rng.uniform(0.85, 1.05, (n, PERIODS_PER_DAY)), 0, 100)
    cap = cells_table.column("capacity_mbps").to_numpy()
    users = np.maximum(0, np.round(load / 100 * cap[:, None] / 2 + rng.normal(0, 3, load.shape))).astype(np.int32)
    drop = np.clip(0.3 + np.maximum(0, load - 85) * 0.15 + alarm * 2.5 + rng.exponential(0.1, load.shape), 0, 100)
    drop[outage] = rng.uniform(15, 40, int(outage.sum()))  # an outage: calls drop whatever the load
    start = epoch_us(cfg.start) + day * 86_400_000_000
    periods = start + np.arange(PERIODS_PER_DAY) * PERIOD_US
    cell_ids = cells_table.column("cell_id").to_numpy(zero_copy_only=False)
    if truth is not None:
        for kind, found in (("cell_faults", faults), ("false_precursors", false_alarms)):
            truth.setdefault(kind, []).extend(
                {"cell_id": cell_ids[c], "at": str(to_datetime64(np.int64(periods[at])))} for c, at in found
            )
    return pa.table(
        {
            "cell_id": np.repeat(cell_ids, PERIODS_PER_DAY),
            "period_start": to_datetime64(np.tile(periods, n)),
            "load_pct": np.round(load.ravel(), 2),
            "bandwidth_util_pct": np.round(util.ravel(), 2),
            "active_users": users.ravel(),
            "drop_rate_pct": np.round(drop.ravel(), 3),
            "alarm_count": alarm.ravel(),
        }
    )


# Per cell-day, times the cell's busy-ness: a fault (an outage: major alarms, calls dropping),
# and a false precursor (the same warning signs, no fault after them).
FAULT_RATE = 0.025
FALSE_PRECURSOR_RATE = 0.008


def _precursors(rng: np.random.Generator, load: np.ndarray, alarm: np.ndarray, cells: np.ndarray) -> list:
    """Warning signs on the chosen cells, 1-6 hours long, ending at a random period: load climbs
    towards saturation and minor alarms come and go. Returns (cell, period the signs end)."""
    out = []
    for c in np.flatnonzero(cells):
        lead = int(rng.integers(4, 25))
        at = int(rng.integers(lead, PERIODS_PER_DAY - 4))
        peak = rng.uniform(90, 99)
        load[c, at - lead : at] = np.linspace(load[c, at - lead], peak, lead) + rng.normal(0, 1.5, lead)
        alarm[c, at - lead : at] = rng.random(lead) < 0.3
        out.append((int(c), at))
    return out
