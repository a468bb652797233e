"""Table and file upkeep: compact small files, delete files no snapshot in the retention needs,
prune old logs; every action measured before and after and recorded in ``ops.maintenance``.

- **OPTIMIZE** (Delta's bin-packing compaction) where small files accumulate: every bronze table
  (change logs and dead letters appended per batch, landing tables per file group, current
  state MERGEd per run), the ``ops`` and quality tables (appended per run), and the dbt models
  that are not rebuilt whole: incremental facts and snapshots (``incremental_models``). A table
  dbt replaces every run is only vacuumed: compacting files the next build replaces is waste.
- **VACUUM** of every Delta table of those schemas, keeping unreferenced files
  ``LAKEHOUSE_VACUUM_RETENTION_HOURS`` (at least 168: time travel and the longest reader need
  them). Delta 4 ignores VACUUM's ``RETAIN`` clause, so the retention is each table's
  ``delta.deletedFileRetentionDuration``, which also bounds time travel; Delta's own
  ``retentionDurationCheck`` stays on.
- **Concurrency**: an append (the CDC consumer, the file loader) never conflicts with a
  compaction; a MERGE or delete that rewrote the same files does, and the OPTIMIZE is retried,
  then recorded as failed. One table failing does not stop the others; the caller sees the
  failures at the end.

``python -m lakehouse.maintenance`` runs it all by hand; the ``lakehouse_maintenance`` DAG daily.
"""

from __future__ import annotations

import fnmatch
import logging
import random
import re
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pyarrow.fs as pafs
import yaml
from pyspark.sql import SparkSession
from pyspark.sql import types as T

from core import storage
from core.dbt_cli import DBT_PROJECT_DIR
from core.settings import get_settings
from spark_jobs import bronze
from spark_jobs.cdc.changes import OPS_DB

log = logging.getLogger("maintenance")

# Delta's default tombstone retention: shorter risks deleting files a running reader or a
# writer's not yet committed transaction still needs.
MIN_RETENTION_HOURS = 168
OPS_TABLE = f"{OPS_DB}.maintenance"
RETENTION_PROPERTY = "delta.deletedFileRetentionDuration"
CONFLICT_ATTEMPTS = 3
CONFLICT_WAIT_S = 5.0

OPS_SCHEMA = T.StructType(
    [
        T.StructField("run_id", T.StringType(), False),
        T.StructField("target", T.StringType(), False),  # a table, or the folder pruned
        T.StructField("action", T.StringType(), False),  # optimize | vacuum | prune
        T.StructField("status", T.StringType(), False),  # ok | skipped (nothing to do) | failed
        # the table's current snapshot (DESCRIBE DETAIL); for a prune, the folder's files
        T.StructField("files_before", T.LongType(), True),
        T.StructField("files_after", T.LongType(), True),
        T.StructField("bytes_before", T.LongType(), True),
        T.StructField("bytes_after", T.LongType(), True),
        # every data file under the table's location, referenced or not: what VACUUM shrinks
        T.StructField("disk_files_before", T.LongType(), True),
        T.StructField("disk_files_after", T.LongType(), True),
        T.StructField("disk_bytes_before", T.LongType(), True),
        T.StructField("disk_bytes_after", T.LongType(), True),
        T.StructField("attempts", T.IntegerType(), False),
        T.StructField("seconds", T.DoubleType(), False),
        T.StructField("error", T.StringType(), True),
        T.StructField("at", T.TimestampType(), False),
    ]
)


class RetentionTooShort(ValueError):
    pass


def check_retention(hours: int) -> int:
    """The VACUUM retention, refused under Delta's safe minimum."""
    if hours < MIN_RETENTION_HOURS:
        raise RetentionTooShort(
            f"VACUUM retention of {hours} hours is under {MIN_RETENTION_HOURS} (7 days): files a running "
            f"reader, a writer's open transaction or time travel still needs could go. Set "
            f"LAKEHOUSE_VACUUM_RETENTION_HOURS to at least {MIN_RETENTION_HOURS}, and above the longest query."
        )
    return hours


# ---------------------------------------------------------------------------------------------
# Which tables, and what each needs


@dataclass(frozen=True)
class Target:
    table: str
    optimize: bool
    vacuum: bool = True


_INCREMENTAL = re.compile(r"""materialized\s*=\s*['"]incremental['"]""")
_SNAPSHOT_SQL = re.compile(r"{%-?\s*snapshot\s+(\w+)")


def incremental_models(project_dir: Path = DBT_PROJECT_DIR) -> set[str]:
    """dbt models that MERGE into their table rather than rebuild it: incremental models and
    snapshots, read from the project's files (no dbt run, no compiled manifest needed)."""
    names = {p.stem for p in (project_dir / "models").rglob("*.sql") if _INCREMENTAL.search(p.read_text())}
    for p in (project_dir / "snapshots").glob("*"):
        if p.suffix == ".sql":
            names |= set(_SNAPSHOT_SQL.findall(p.read_text()))
        elif p.suffix in (".yml", ".yaml"):
            names |= {s["name"] for s in (yaml.safe_load(p.read_text()) or {}).get("snapshots", [])}
    return names


def layer_dbs() -> dict[str, str]:
    """The databases maintained, by layer."""
    s = get_settings()
    return {
        "bronze": s.bronze_db,
        "ops": OPS_DB,
        "quality": f"{s.schema_prefix}quality",
        "silver": f"{s.schema_prefix}silver",
        "gold": f"{s.schema_prefix}gold",
    }


def plan(tables: dict[str, list[str]], incremental: set[str]) -> list[Target]:
    """``tables``: the Delta tables of each layer. Appended or MERGEd tables are compacted; dbt
    tables only when their model is incremental (a rebuilt one gets new files every run)."""
    dbs = layer_dbs()
    targets = []
    for layer, names in tables.items():
        for name in sorted(names):
            compact = layer not in ("silver", "gold") or name in incremental
            targets.append(Target(f"{dbs[layer]}.{name}", optimize=compact))
    return targets


def discover(spark: SparkSession, incremental: set[str] | None = None) -> list[Target]:
    """The Delta tables of every maintained layer, from the metastore (views and other formats
    left out)."""
    tables: dict[str, list[str]] = {}
    for layer, db in layer_dbs().items():
        if not spark.catalog.databaseExists(db):
            continue
        tables[layer] = [
            t.name
            for t in spark.catalog.listTables(db)
            if not t.isTemporary and (t.tableType or "").upper() != "VIEW" and _is_delta(spark, f"{db}.{t.name}")
        ]
    return plan(tables, incremental_models() if incremental is None else incremental)


def select(targets: list[Target], patterns: str | None) -> list[Target]:
    """The targets whose table matches one of the comma-separated globs (``gold.fct_*,
    bronze.crm_*``); every target when there are none. A pattern matching nothing is an error:
    a typo would otherwise maintain nothing and report success."""
    globs = [p.strip() for p in (patterns or "").split(",") if p.strip()]
    if not globs:
        return targets
    unmatched = [g for g in globs if not any(fnmatch.fnmatchcase(t.table, g) for t in targets)]
    if unmatched:
        raise ValueError(f"no maintained table matches {', '.join(unmatched)}")
    return [t for t in targets if any(fnmatch.fnmatchcase(t.table, g) for g in globs)]


def _is_delta(spark: SparkSession, table: str) -> bool:
    try:
        detail = spark.sql(f"describe detail {table}").first()
    except Exception:  # noqa: BLE001 - a table the metastore lists but cannot describe is not ours to maintain
        return False
    return detail is not None and detail.format == "delta"


# ---------------------------------------------------------------------------------------------
# Measures


@dataclass(frozen=True)
class Measure:
    files: int
    bytes: int


def snapshot_measure(spark: SparkSession, table: str) -> tuple[Measure, str]:
    """Files and bytes of the table's current snapshot, and its location."""
    detail = spark.sql(f"describe detail {table}").first()
    if detail is None:
        raise LookupError(f"no table {table}")
    return Measure(int(detail.numFiles or 0), int(detail.sizeInBytes or 0)), detail.location


def _hidden(part: str) -> bool:
    # Delta's own rule for what VACUUM leaves alone: the log and names starting _ or .
    return part.startswith(("_", "."))


def _data_files(location: str) -> list[pafs.FileInfo]:
    """Every data file under a table's location, referenced or not (the log and hidden files
    such as Hadoop's checksums left out)."""
    fs, root = storage.filesystem(location)
    return [
        info
        for info in fs.get_file_info(pafs.FileSelector(root, recursive=True, allow_not_found=True))
        if info.type == pafs.FileType.File and not any(_hidden(p) for p in info.path[len(root) :].split("/"))
    ]


def disk_measure(location: str) -> Measure:
    files = _data_files(location)
    return Measure(len(files), sum(f.size or 0 for f in files))


def vacuum_can_delete(location: str, retention_hours: int, now: datetime | None = None) -> bool:
    """Whether any data file is older than the retention: VACUUM deletes no file younger (it
    compares the file's modification time first), so a table without one is skipped, saving
    its listing and joins."""
    horizon = (now or datetime.now(UTC)) - timedelta(hours=retention_hours)
    return any(f.mtime is not None and f.mtime < horizon for f in _data_files(location))


def compactable(spark: SparkSession, table: str, files: int) -> bool:
    """Whether some partition (or the unpartitioned table) has two files or more for OPTIMIZE
    to bin together; Delta would find out too, after planning jobs of its own."""
    if files < 2:
        return False
    per_dir: dict[str, int] = {}
    for path in spark.table(table).inputFiles():
        folder = path.rsplit("/", 1)[0]
        per_dir[folder] = per_dir.get(folder, 0) + 1
    return max(per_dir.values(), default=0) > 1


def folder_measure(roots: Iterable[Path]) -> Measure:
    files = n_bytes = 0
    for root in roots:
        for p in root.rglob("*") if root.exists() else ():
            if p.is_file():
                files += 1
                n_bytes += p.stat().st_size
    return Measure(files, n_bytes)


# ---------------------------------------------------------------------------------------------
# Actions


@dataclass
class Outcome:
    run_id: str
    target: str
    action: str
    status: str = "ok"
    before: Measure | None = None
    after: Measure | None = None
    disk_before: Measure | None = None
    disk_after: Measure | None = None
    attempts: int = 1
    seconds: float = 0.0
    error: str | None = None
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def failed(self) -> bool:
        return self.status == "failed"

    def summary(self) -> str:
        files, disk = _pair(self.before, self.after, "files"), _pair(self.disk_before, self.disk_after, "files")
        error = f": {self.error}" if self.error else ""
        return (
            f"maintenance: {self.target} {self.action}: {self.status}, files {files}, disk files {disk}, "
            f"{self.seconds:.1f}s{error}"
        )

    def row(self) -> tuple:
        def of(m: Measure | None) -> tuple[int | None, int | None]:
            return (m.files, m.bytes) if m else (None, None)

        (fb, bb), (fa, ba) = of(self.before), of(self.after)
        (dfb, dbb), (dfa, dba) = of(self.disk_before), of(self.disk_after)
        return (
            self.run_id,
            self.target,
            self.action,
            self.status,
            fb,
            fa,
            bb,
            ba,
            dfb,
            dfa,
            dbb,
            dba,
            self.attempts,
            round(self.seconds, 3),
            self.error,
            self.at.replace(tzinfo=None),
        )


_CONFLICT = re.compile(r"DELTA_CONCURRENT_\w+|Concurrent\w*(?:Exception|Read|Delete|Append|Transaction)")


def is_conflict(error: BaseException | str) -> bool:
    """A Delta write conflict (another commit touched the files this one rewrote): retryable.
    Matched on the message, which is all a Spark Connect client gets of the JVM's exception."""
    return bool(_CONFLICT.search(str(error)))


R = TypeVar("R")


def with_retries(
    fn: Callable[[], R],
    attempts: int = CONFLICT_ATTEMPTS,
    wait_s: float = CONFLICT_WAIT_S,
    sleep: Callable[[float], Any] = time.sleep,
    jitter: float = 0.0,
) -> R:
    """``fn()``, tried again after a write conflict only (anything else is not cured by trying
    again); the last conflict is raised when ``attempts`` are used up. ``jitter`` stretches each
    wait by up to that fraction at random, so writers that conflicted do not retry in step."""
    for attempt in range(1, attempts):
        try:
            return fn()
        except Exception as e:
            if not is_conflict(e):
                raise
            log.warning("maintenance: write conflict, attempt %d of %d: %s", attempt, attempts, _first_line(e))
            sleep(wait_s * attempt * (1 + jitter * random.random()))
    return fn()


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return (text.splitlines() or [type(error).__name__])[0][:500]


def optimize(spark: SparkSession, table: str, run_id: str, wait_s: float = CONFLICT_WAIT_S) -> Outcome:
    """Compact the table's small files; Delta commits nothing when no bin has two files to merge."""
    out = Outcome(run_id, table, "optimize", attempts=0)
    started = time.monotonic()

    def compact() -> None:
        out.attempts += 1
        spark.sql(f"optimize {table}").collect()

    try:
        out.before, location = snapshot_measure(spark, table)
        out.disk_before = disk_measure(location)
        if compactable(spark, table, out.before.files):
            with_retries(compact, wait_s=wait_s)
        else:
            out.status = "skipped"
        out.after, _ = snapshot_measure(spark, table)
        out.disk_after = disk_measure(location)
    except Exception as e:  # noqa: BLE001 - recorded; the other tables go on
        out.status, out.error = "failed", _first_line(e)
    out.attempts = max(out.attempts, 1)
    out.seconds = time.monotonic() - started
    return out


_INTERVAL = re.compile(r"(?:interval\s+)?(\d+)\s*(week|day|hour|minute|second)s?", re.I)
_HOURS_PER = {"week": 168.0, "day": 24.0, "hour": 1.0, "minute": 1 / 60, "second": 1 / 3600}


def interval_hours(value: str | None) -> float:
    """Hours of a Delta interval property (``interval 1 week``, ``168 hours``); Delta's default
    tombstone retention (a week) when unset."""
    if not value:
        return float(MIN_RETENTION_HOURS)
    parts = _INTERVAL.findall(value)
    if not parts or _INTERVAL.sub("", value).strip().lower() not in ("", "interval"):
        raise ValueError(f"not a Delta interval: {value!r}")
    return sum(int(n) * _HOURS_PER[unit.lower()] for n, unit in parts)


def ensure_retention(spark: SparkSession, table: str, hours: int) -> None:
    """Make the table's ``delta.deletedFileRetentionDuration`` the retention: Delta 4 ignores
    VACUUM's RETAIN (but 0), and bounds time travel by this property. A property change is a
    metadata commit, which fails a writer committing at the same moment, so it is made only when
    the value differs."""
    have = {r.key: r.value for r in spark.sql(f"show tblproperties {table}").collect()}
    if interval_hours(have.get(RETENTION_PROPERTY)) != hours:
        with_retries(
            lambda: spark.sql(
                f"alter table {table} set tblproperties ('{RETENTION_PROPERTY}' = 'interval {hours} hours')"
            ).collect()
        )


def vacuum(spark: SparkSession, table: str, run_id: str, retention_hours: int) -> Outcome:
    """Delete the table's files that no snapshot within the retention references and that are
    older than it (Delta: removed files by their remove's time, untracked ones by mtime)."""
    check_retention(retention_hours)
    out = Outcome(run_id, table, "vacuum")
    started = time.monotonic()
    try:
        out.before, location = snapshot_measure(spark, table)
        out.disk_before = disk_measure(location)
        ensure_retention(spark, table, retention_hours)
        if vacuum_can_delete(location, retention_hours):
            spark.sql(f"vacuum {table}").collect()
        else:
            out.status = "skipped"
        out.after, _ = snapshot_measure(spark, table)
        out.disk_after = disk_measure(location)
    except Exception as e:  # noqa: BLE001 - recorded; the other tables go on
        out.status, out.error = "failed", _first_line(e)
    out.seconds = time.monotonic() - started
    return out


def maintain_tables(
    spark: SparkSession,
    run_id: str,
    targets: list[Target] | None = None,
    retention_hours: int | None = None,
    after_table: Callable[[list[Outcome]], Any] | None = None,
) -> list[Outcome]:
    """OPTIMIZE then VACUUM each target (all maintained tables by default); failures are in the
    outcomes, not raised. ``after_table`` gets each table's outcomes as soon as it is done."""
    hours = check_retention(get_settings().vacuum_retention_hours if retention_hours is None else retention_hours)
    outcomes: list[Outcome] = []
    for t in discover(spark) if targets is None else targets:
        done = []
        if t.optimize:
            done.append(optimize(spark, t.table, run_id))
        if t.vacuum:
            done.append(vacuum(spark, t.table, run_id, hours))
        outcomes += done
        if after_table:
            after_table(done)
    return outcomes


# ---------------------------------------------------------------------------------------------
# Files outside the tables


def prune_files(root: Path, older_than: datetime) -> int:
    """Delete files under ``root`` last modified before ``older_than``, then the folders that
    leaves empty. A file being written now is never old. Returns the files deleted."""
    cutoff = older_than.timestamp()
    removed = 0
    if not root.exists():
        return 0
    for p in root.rglob("*"):
        if p.is_file() and p.stat().st_mtime < cutoff:
            p.unlink()
            removed += 1
    for d in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        if not any(d.iterdir()):
            d.rmdir()
    return removed


def airflow_log_roots() -> list[Path]:
    """Airflow's task logs (``AIRFLOW__LOGGING__BASE_LOG_FOLDER``) and its DAG processor's."""
    s = get_settings()
    return [s.log_dir / "airflow", s.home / "airflow" / "logs"]


def prune_airflow_logs(run_id: str, days: int | None = None, roots: list[Path] | None = None) -> Outcome:
    days = get_settings().airflow_log_retention_days if days is None else days
    roots = airflow_log_roots() if roots is None else roots
    return measured_prune(run_id, "airflow_logs", roots, lambda: sum(prune_files(r, ago(days=days)) for r in roots))


def measured_prune(run_id: str, target: str, roots: list[Path], prune: Callable[[], Any]) -> Outcome:
    """Run ``prune`` and measure ``roots`` around it."""
    out = Outcome(run_id, target, "prune", before=folder_measure(roots))
    started = time.monotonic()
    try:
        prune()
    except OSError as e:
        out.status, out.error = "failed", _first_line(e)
    out.after = folder_measure(roots)
    out.seconds = time.monotonic() - started
    return out


def ago(days: float) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)


# ---------------------------------------------------------------------------------------------
# Record and report


def record(spark: SparkSession, outcomes: list[Outcome], table: str = OPS_TABLE) -> None:
    """MERGEd on (run, target, action): a retried run replaces its rows instead of adding more.
    The DAG's tasks record side by side, and a MERGE reads the whole table: one that meets
    another task's commit is tried again."""
    if not outcomes:
        return
    spark.sql(f"create database if not exists {table.split('.')[0]}")
    _create_shared(spark, table, bronze.ddl_columns(OPS_SCHEMA.fields))
    batch = f"_maintenance_batch_{uuid.uuid4().hex[:8]}"  # tasks sharing a session do not share the view
    spark.createDataFrame([o.row() for o in outcomes], OPS_SCHEMA).createOrReplaceTempView(batch)
    try:
        with_retries(
            lambda: spark.sql(
                f"""merge into {table} t using {batch} s
                on t.run_id = s.run_id and t.target = s.target and t.action = s.action
                when matched then update set * when not matched then insert *"""
            ),
            attempts=8,
            wait_s=1.0,
            jitter=1.0,
        )
    finally:
        spark.catalog.dropTempView(batch)


def _create_shared(spark: SparkSession, table: str, columns: str, attempts: int = 20, wait_s: float = 0.5) -> None:
    """``create table if not exists`` that tasks may run at the same moment: between a creator
    writing the table's first commit and registering it in the metastore, another one meets a
    location that is "not empty and not a Delta table"; it waits for the table to appear."""
    for attempt in range(1, attempts + 1):
        try:
            spark.sql(f"create table if not exists {table} ({columns}) using delta")
            return
        except Exception:
            if spark.catalog.tableExists(table):
                return
            if attempt == attempts:
                raise
            time.sleep(wait_s)


def _pair(before: Measure | None, after: Measure | None, attr: str, scale: float = 1.0) -> str:
    if before is None:
        return "-"

    def fmt(m: Measure | None) -> str:
        if m is None:
            return "?"
        v = getattr(m, attr) / scale
        return f"{v:.1f}" if scale != 1.0 else str(int(v))

    return f"{fmt(before)} -> {fmt(after)}"


def summary_table(outcomes: list[Outcome]) -> str:
    """One line per action: files and MB of the snapshot, then on disk, before -> after."""
    mb = 1024 * 1024
    header = ("target", "action", "status", "files", "MB", "disk files", "disk MB", "s")
    rows = [
        (
            o.target,
            o.action,
            o.status if o.attempts == 1 else f"{o.status} ({o.attempts} tries)",
            _pair(o.before, o.after, "files"),
            _pair(o.before, o.after, "bytes", mb),
            _pair(o.disk_before, o.disk_after, "files"),
            _pair(o.disk_before, o.disk_after, "bytes", mb),
            f"{o.seconds:.1f}",
        )
        for o in outcomes
    ]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in [header, *rows]]
    failed = [o for o in outcomes if o.failed]
    lines += [f"FAILED {o.target} {o.action}: {o.error}" for o in failed]
    return "\n".join(lines)


class MaintenanceFailed(RuntimeError):
    pass


def raise_if_failed(outcomes: list[Outcome]) -> None:
    failed = [o for o in outcomes if o.failed]
    if failed:
        raise MaintenanceFailed(
            f"{len(failed)} of {len(outcomes)} maintenance actions failed: "
            + "; ".join(f"{o.target} {o.action}: {o.error}" for o in failed)
        )
