"""Write the file feeds into the landing zone the way the source platforms export them:
network KPIs as one CSV per day, app logs as one gzip JSON-lines file per day. File-level
defects (late, duplicated, swapped and broken lines; an extra CSV column; a truncated and an
empty gzip file) are planted here and recorded in the manifest."""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from simulator.generator.common import phone_variants, stream
from simulator.generator.config import GeneratorConfig
from simulator.generator.manifest import KEYS_CAP, Manifest
from simulator.generator.planter import DefectPlanter


def _day_tag(cfg: GeneratorConfig, day: int) -> str:
    return (cfg.start + timedelta(days=day)).strftime("%Y%m%d")


def write_csv(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cols = {}
    for name in table.column_names:
        col = table.column(name)
        cols[name] = pc.strftime(col, format="%Y-%m-%d %H:%M:%S") if pa.types.is_timestamp(col.type) else col
    pacsv.write_csv(pa.table(cols), path)


def write_cells(cfg: GeneratorConfig, cells: pa.Table, root: Path, m: Manifest) -> None:
    rel = f"network/cells/cells_{_day_tag(cfg, 0)}.csv"
    write_csv(cells, root / rel)
    m.files[rel] = {"feed": "network.cells", "rows": cells.num_rows}


def write_kpi_day(cfg: GeneratorConfig, kpis: pa.Table, day: int, root: Path, m: Manifest) -> None:
    rel = f"network/cell_kpis/cell_kpis_{_day_tag(cfg, day)}.csv"
    extra_days = set(range(1, 1 + cfg.defects.csv_extra_column_files))  # day 0 stays clean
    if day in extra_days:
        # An NMS upgrade that day added a column the contract does not know.
        kpis = kpis.append_column("vendor_note", pa.array(["nms-v2.1"] * kpis.num_rows))
        m.defects.setdefault(
            "csv_extra_column",
            {"table": "network.cell_kpis", "key": "file", "keys": [], "count": 0, "column": "vendor_note", "rows": 0},
        )
        d = m.defects["csv_extra_column"]
        d["keys"].append(rel)
        d["count"] += 1
        d["rows"] += kpis.num_rows
    write_csv(kpis, root / rel)
    m.files[rel] = {"feed": "network.cell_kpis", "rows": kpis.num_rows, "day": _day_tag(cfg, day)}


def _json_lines(ev: dict[str, np.ndarray], idx: np.ndarray) -> list[str]:
    at = np.datetime_as_string((ev["event_at_us"][idx] + 8 * 3_600_000_000).astype("datetime64[us]"), unit="ms")
    out = []
    for eid, ph, dev, kind, t, ver, ch, b, d in zip(
        ev["event_id"][idx].tolist(),
        ev["user_phone"][idx].tolist(),
        ev["device_id"][idx].tolist(),
        ev["event_type"][idx].tolist(),
        at.tolist(),
        ev["app_version"][idx].tolist(),
        ev["channel"][idx].tolist(),
        ev["bytes"][idx].tolist(),
        ev["duration_s"][idx].tolist(),
        strict=False,
    ):
        out.append(
            f'{{"event_id":"{eid}","user_phone":"{ph}","device_id":"{dev}","event_type":"{kind}",'
            f'"event_at":"{t}+08:00","app_version":"{ver}","channel":"{ch}",'
            f'"bytes":{"null" if b < 0 else b},"duration_s":{"null" if d < 0 else d}}}'
        )
    return out


@dataclass
class _EventFilePlan:
    """Where each event lands, and which events carry a line- or file-level defect."""

    file_day: np.ndarray  # the day whose file holds the event (late events: a later one)
    dups: np.ndarray  # events written twice
    late: np.ndarray
    broken: set[int]  # events whose line is cut mid-record
    retry: np.ndarray  # last-day events that only travel in the truncated retransmission


def write_app_events(cfg: GeneratorConfig, ev: dict[str, np.ndarray], root: Path, m: Manifest, progress=None) -> None:
    rng = stream(cfg.seed, "app-files")
    m.rows["app.events"] = len(ev["event_id"])
    plan = _plant_event_defects(cfg, ev, DefectPlanter(rng, m, "app.events", ev["event_id"], key_name="event_id"))
    ooo_total, malformed_lines = 0, []
    for day in range(cfg.days):
        rel = f"app/events/events_{_day_tag(cfg, day)}.jsonl.gz"
        order = _day_file_order(rng, plan, day, cfg.defects.out_of_order_events)
        lines, out_of_order = _day_file_lines(ev, order, plan.broken, rel, malformed_lines)
        ooo_total += out_of_order
        _write_gz(root / rel, lines)
        m.files[rel] = {"feed": "app.events", "rows": len(lines), "day": _day_tag(cfg, day)}
        if progress:
            progress(1)
    _record_line_defects(m, malformed_lines, ooo_total)
    if cfg.defects.truncated_gzip_files:
        _write_truncated_retry(cfg, ev, plan.retry, root, m)
    if cfg.defects.empty_files:
        _write_empty_resend(cfg, root, m)


def _plant_event_defects(cfg: GeneratorConfig, ev: dict[str, np.ndarray], planter: DefectPlanter) -> _EventFilePlan:
    """Row-level defects on disjoint events (so each count is exact); replaces ev["user_phone"]
    with a copy carrying the typed-in variants."""
    rates, rng = cfg.defects, planter.rng
    variants = planter.plant("app_phone_format_variants", rates.phone_format_variants)
    ev["user_phone"] = ev["user_phone"].copy()
    ev["user_phone"][variants] = phone_variants(rng, ev["user_phone"][variants].astype(str))
    dups = planter.plant("duplicate_events", rates.duplicate_events)
    late = planter.plant("late_events", rates.late_events, eligible=ev["day"] < cfg.days - 1)
    broken = planter.pick(rates.malformed_json_lines)  # recorded by file and line once written
    file_day = ev["day"].copy()
    file_day[late] = np.minimum(cfg.days - 1, ev["day"][late] + rng.choice([1, 2], len(late), p=[0.7, 0.3]))
    # The retransmission chunk of the last day that arrives truncated (the first 5% of its events).
    retry: np.ndarray = np.array([], dtype=np.int64)
    if rates.truncated_gzip_files:
        cand = planter.free(file_day == cfg.days - 1)
        retry = planter.reserve(cand[: max(1, len(cand) // 20)])
    return _EventFilePlan(file_day, dups, late, set(broken.tolist()), retry)


def _day_file_order(rng: np.random.Generator, plan: _EventFilePlan, day: int, out_of_order_rate: float) -> np.ndarray:
    """The events of one day's file, in the order written."""
    in_day = np.flatnonzero(plan.file_day == day)
    in_day = np.setdiff1d(in_day, plan.retry, assume_unique=True)
    # Copies of duplicated events and the late arrivals go in at random places.
    dup_here = plan.dups[plan.file_day[plan.dups] == day]
    order = np.concatenate([in_day, dup_here])
    positions = np.argsort(
        np.concatenate(
            [
                np.where(
                    np.isin(in_day, plan.late), rng.random(len(in_day)), np.linspace(0, 1, len(in_day), endpoint=False)
                ),
                rng.random(len(dup_here)),
            ]
        ),
        kind="stable",
    )
    order = order[positions]
    # Out-of-order: swap a share of neighbouring lines, in the drawn order (a swap can undo or
    # carry on an earlier one, so these are positions in the file, not a set of rows).
    k = int(round(out_of_order_rate * len(order)))
    if k and len(order) > 2:
        at = rng.choice(len(order) - 1, size=k, replace=False)
        for i in at.tolist():
            order[i], order[i + 1] = order[i + 1], order[i]
    return order


def _day_file_lines(
    ev: dict[str, np.ndarray], order: np.ndarray, broken: set[int], rel: str, malformed_lines: list
) -> tuple[list[str], int]:
    """The file's lines with the broken ones cut (each appended to ``malformed_lines`` as
    [file, line, event_id]), and how many valid lines are earlier than the valid line before."""
    lines = _json_lines(ev, order)
    valid_times = []
    for pos, e in enumerate(order.tolist()):
        if e in broken:
            lines[pos] = lines[pos][: len(lines[pos]) // 2]  # cut mid-record
            malformed_lines.append([rel, pos + 1, ev["event_id"][e]])
        else:
            valid_times.append(ev["event_at_us"][e])
    vt = np.array(valid_times)
    return lines, int((vt[1:] < vt[:-1]).sum()) if len(vt) > 1 else 0


def _record_line_defects(m: Manifest, malformed_lines: list, ooo_total: int) -> None:
    # Broken, duplicated, late and retried events are disjoint sets, so each count is exact.
    m.defect("malformed_json_lines", "app.events", key_name="file_line", keys=malformed_lines)
    m.defect(
        "out_of_order_events",
        "app.events",
        key_name="none",
        keys=[],
        definition=("valid JSON lines whose event_at is earlier than the valid line just before them in the same file"),
    )
    m.defects["out_of_order_events"]["count"] = ooo_total


def _write_truncated_retry(
    cfg: GeneratorConfig, ev: dict[str, np.ndarray], retry: np.ndarray, root: Path, m: Manifest
) -> None:
    last = cfg.days - 1
    rel = f"app/events/events_{_day_tag(cfg, last)}_retry.jsonl.gz"
    path = root / rel
    _write_gz(path, _json_lines(ev, retry))
    data = path.read_bytes()
    path.write_bytes(data[: max(20, int(len(data) * 0.6))])
    m.files[rel] = {"feed": "app.events", "rows": len(retry), "day": _day_tag(cfg, last), "truncated": True}
    m.defect(
        "truncated_gzip",
        "app.events",
        key_name="file",
        keys=[rel],
        events_lost=len(retry),
        event_ids=ev["event_id"][retry].tolist() if len(retry) <= KEYS_CAP else None,
    )


def _write_empty_resend(cfg: GeneratorConfig, root: Path, m: Manifest) -> None:
    rel = f"app/events/events_{_day_tag(cfg, 0)}_resend.jsonl.gz"
    _write_gz(root / rel, [])
    m.files[rel] = {"feed": "app.events", "rows": 0, "day": _day_tag(cfg, 0), "empty": True}
    m.defect("empty_files", "app.events", key_name="file", keys=[rel])


def _write_gz(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # mtime=0: the same seed gives byte-identical files.
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1, mtime=0) as f:
        if lines:
            f.write(("\n".join(lines) + "\n").encode("utf-8"))
