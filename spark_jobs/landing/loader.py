"""Landing-zone files into bronze, each file exactly once, every row accounted for.

``python -m spark_jobs.landing.loader [--feed app.events] [--root URI] [--interval SECONDS]``

For each feed (a contract with a file format): list the files (a local folder by default; an
object store or HDFS URI that Arrow's file systems take, e.g. ``s3://bucket/landing``),
fingerprint the ones the manifest has not seen, parse the new ones with Arrow (``parse.py``:
bad rows to the quarantine with file, line and reason), then land the rest as the contract's
``landing`` mode says. Append (events): skip rows whose key is already in bronze or earlier in the
same load, and append the rest as one Delta commit of one Parquet file per date. Upsert
(reference data such as the cell inventory): per key, the row with the newest version wins, in
one MERGE; an older version is superseded, the same version again is a duplicate. Per file,
rows read = landed + quarantined + duplicates skipped + superseded, recorded in the manifest table.

Spark is used for what needs the table's state: the manifest, the keys already landed for the
dates a load touches, and the commits (through Delta's own transaction, ``arrow_delta``). The
rows themselves never pass through the JVM: Spark's row-wise parse and write cost ~6x a plain
Parquet write here, Arrow's columnar readers and writer run in C++ threads.

A corrupt, truncated or empty file is marked failed with its reason; the other files load.
Crash safety: a file's quarantine rows commit together and a retry skips files that have them;
each bronze append carries its files' counts in its commit, so a crash before the manifest is
written is repaired from the table's history instead of loading the files again.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import logging
import os
import sys
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
from pyspark.sql import Row, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import to_arrow_schema

from core.disk import require_free_space
from core.session import WRITE_ONLY_JVM_OPTIONS, get_spark
from core.settings import get_settings
from spark_jobs import arrow_delta
from spark_jobs.bronze import table_location
from spark_jobs.landing import tables
from spark_jobs.landing.feeds import Feed, file_feeds, get_feed
from spark_jobs.landing.parse import Parsed, parse_text, partition_values

log = logging.getLogger("landing")
LOADER_TAG = "landing-loader"
# Files are loaded in groups of at most this many compressed bytes, a commit each: bounds the
# memory a load holds (parsed rows are ~5-10x their gzip size) whatever the backlog.
GROUP_BYTES = 256 * 1024 * 1024
# How far back in the feed table's history a crash is looked for.
RECOVERY_COMMITS = 50


@dataclass
class FileOutcome:
    path: str
    fingerprint: str
    size: int
    modified_at: datetime
    status: str = "loaded"
    read: int = 0
    landed: int = 0
    quarantined: int = 0
    duplicates: int = 0
    error: str | None = None
    superseded: int = 0  # upsert feeds: rows older than the version bronze or the load holds

    def manifest_row(self, feed: Feed, version: int | None, at: datetime) -> dict:
        return {
            "feed": feed.name,
            "file_path": self.path,
            "fingerprint": self.fingerprint,
            "size_bytes": self.size,
            "modified_at": self.modified_at,
            "status": self.status,
            "rows_read": self.read,
            "rows_landed": self.landed,
            "rows_quarantined": self.quarantined,
            "duplicates_skipped": self.duplicates,
            "rows_superseded": self.superseded,
            "error": self.error,
            "bronze_version": version,
            "loaded_at": at,
        }


@dataclass
class FeedResult:
    feed: str
    files: list[FileOutcome] = field(default_factory=list)
    recovered: int = 0
    seconds: float = 0.0

    def total(self, attr: str) -> int:
        return sum(getattr(f, attr) for f in self.files)

    def summary(self) -> str:
        failed = [f for f in self.files if f.status in ("failed", "pending")]
        pending = sum(f.status == "pending" for f in failed)
        return (
            f"{self.feed}: {len(self.files)} new files ({len(failed) - pending} failed, {pending} pending), "
            f"{self.total('read'):,} rows read = "
            f"{self.total('landed'):,} landed + {self.total('quarantined'):,} quarantined + "
            f"{self.total('duplicates'):,} duplicates skipped + {self.total('superseded'):,} superseded "
            f"in {self.seconds:.1f}s" + "".join(f"\n  {f.status} {f.path}: {f.error}" for f in failed)
        )


def default_root() -> str:
    return str(get_settings().landing_dir)


# ---------------------------------------------------------------------------------------------
# Files


def _filesystem(root: str) -> tuple[pafs.FileSystem, str, str]:
    """(file system, its path of ``root``, the URI prefix a path is recorded under)."""
    uri = "s3://" + root[len("s3a://") :] if root.startswith("s3a://") else root  # Hadoop's name for S3
    fs, path = pafs.FileSystem.from_uri(uri if "://" in uri else os.path.abspath(uri))
    scheme = uri.split("://", 1)[0] if "://" in uri else "file"
    return fs, path.rstrip("/"), f"{scheme}://"


def _mtime(info: pafs.FileInfo) -> datetime:
    # To the millisecond, as the manifest has always held them (Spark's file listing).
    return info.mtime.astimezone(UTC).replace(microsecond=info.mtime.microsecond // 1000 * 1000)


def _in_progress(relative: str) -> bool:
    """A name writers give a file until it is complete (``.name``, ``_name``, or anything under
    such a folder, as Hadoop and Spark hide them); ``name.tmp`` and the like fail the glob."""
    return any(part[:1] in (".", "_") for part in relative.split("/"))


def list_files(root: str, feed: Feed) -> tuple[pafs.FileSystem, list[tuple[str, int, datetime]]]:
    """The feed's complete files: (path as recorded, size, modification time). Content is not read."""
    fs, base, prefix = _filesystem(root)
    folder = f"{base}/{feed.subdir}"
    infos = fs.get_file_info(pafs.FileSelector(folder, recursive=True, allow_not_found=True))
    files = [
        (prefix + i.path, i.size, _mtime(i))
        for i in infos
        if i.type == pafs.FileType.File
        and fnmatch.fnmatch(i.base_name, feed.glob)
        and not _in_progress(i.path[len(folder) + 1 :])
    ]
    return fs, sorted(files)


def _fs_path(path: str) -> str:
    return path.split("://", 1)[1] if "://" in path else path


def fingerprint(fs: pafs.FileSystem, path: str) -> str:
    h = hashlib.sha256()
    with fs.open_input_stream(_fs_path(path), compression=None) as f:
        while chunk := f.read(8 << 20):
            h.update(chunk)
    return h.hexdigest()


class Changed(OSError):
    """The file changed while it was read: still being written."""


def read_file(fs: pafs.FileSystem, path: str, feed: Feed) -> bytes:
    """A file's content, decompressed; raises ``ValueError`` with the reason it cannot be read."""
    with fs.open_input_stream(_fs_path(path), compression=None) as f:
        data = f.read()
    if feed.file_format.endswith(".gz"):
        return gunzip(data)
    return data


def gunzip(data: bytes) -> bytes:
    """The content of a gzip file of one or more members. Bytes after the last complete member
    that do not start another are ignored, as gzip(1) does: the members' checksums vouch for
    what was read, and the garbage is reported (``TrailingGarbage``) with it."""
    out: list[bytes] = []
    rest = data
    while rest:
        if out and not rest.startswith(b"\x1f\x8b"):
            raise TrailingGarbage(b"".join(out), len(rest))
        member = zlib.decompressobj(wbits=31)  # gzip header and trailer, CRC checked
        try:
            out.append(member.decompress(rest))
        except zlib.error as e:
            raise ValueError(f"corrupt gzip: {e}") from None
        if not member.eof:
            raise ValueError("truncated gzip: the compressed stream ends before its end marker")
        rest = member.unused_data
    return b"".join(out)


class TrailingGarbage(Exception):
    def __init__(self, content: bytes, garbage: int):
        super().__init__(f"{garbage} bytes of trailing garbage after the gzip stream, ignored")
        self.content = content


def _unchanged(fs: pafs.FileSystem, f: FileOutcome) -> None:
    """Raises ``Changed`` if the file is no longer as listed (size, modification time)."""
    info = fs.get_file_info(_fs_path(f.path))
    if (info.size, _mtime(info) if info.mtime else None) != (f.size, f.modified_at):
        raise Changed(f"changed while being read (still being written?): {f.size} bytes listed, now {info.size}")


def parse_file(fs: pafs.FileSystem, f: FileOutcome, feed: Feed) -> Parsed | None:
    """The file's rows, or None with the file marked failed (its content cannot be read: for
    good) or pending (the storage failed to deliver it, or it changed while read: the next run
    tries again)."""
    try:
        try:
            data = read_file(fs, f.path, feed)
        except TrailingGarbage as e:
            data, f.error = e.content, str(e)
        _unchanged(fs, f)
        if not data.strip():
            f.status, f.error = "failed", "empty file: no lines" if not data else "empty file: only whitespace"
            return None
        parsed = parse_text(data, feed, get_settings().landing_max_line_bytes)
    except ValueError as e:
        f.status, f.error = "failed", f"unreadable: {e}"
        log.warning("%s: %s", f.path, f.error)
        return None
    except OSError as e:
        f.status, f.error = "pending", f"read failed, retried on the next run: {e}"
        log.warning("%s: %s", f.path, f.error)
        return None
    f.read, f.quarantined = parsed.read, len(parsed.bad)
    if f.read == 0:
        f.status, f.error = "failed", "empty file: a header and no rows"
    return parsed


# ---------------------------------------------------------------------------------------------
# Tables


def _arrow(schema) -> pa.Schema:
    return to_arrow_schema(schema, timezone="UTC")


class Tables:
    """The run's view of its tables: locations (each looked up once) and the manifest."""

    def __init__(self, spark: SparkSession):
        self.spark = spark
        self._locations: dict[str, str] = {}
        self.manifest = (
            spark.table(tables.manifest_table())
            .select("feed", "file_path", "fingerprint", "size_bytes", "modified_at", "status")
            .collect()
        )

    def location(self, table: str) -> str:
        if table not in self._locations:
            self._locations[table] = table_location(self.spark, table)
        return self._locations[table]

    def append(self, table: str, rows: list[dict], schema) -> int:
        arrow_schema = _arrow(schema)
        return arrow_delta.append(
            self.spark, self.location(table), pa.Table.from_pylist(rows, schema=arrow_schema), arrow_schema
        )

    def record(self, feed: Feed, files: list[FileOutcome], version: int | None, at: datetime) -> None:
        rows = [f.manifest_row(feed, version if f.status == "loaded" else None, at) for f in files]
        self.append(tables.manifest_table(), rows, tables.MANIFEST_SCHEMA)
        self.manifest += [Row(**r) for r in rows]


def recover_unrecorded(t: Tables, feed: Feed) -> int:
    """Manifest rows for loads that committed to bronze but crashed before the manifest write."""
    recorded = {r.fingerprint for r in t.manifest if r.feed == feed.name}
    recovered = 0
    for version, info in arrow_delta.recent_commits(t.location(tables.feed_table(feed)), RECOVERY_COMMITS):
        meta = info.get("userMetadata") or ""
        meta = json.loads(meta) if meta.startswith("{") else {}
        if meta.get("loader") != LOADER_TAG:
            continue
        lost = [
            FileOutcome(
                f["path"],
                fp,
                f["size"],
                datetime.fromisoformat(f["modified_at"]),
                "loaded",
                f["read"],
                f["landed"],
                f["quarantined"],
                f["duplicates"],
                superseded=f.get("superseded", 0),
            )
            for fp, f in meta["files"].items()
            if fp not in recorded
        ]
        if lost:
            t.record(feed, lost, version, datetime.now(UTC))
            log.warning("%s: recorded %d files that were loaded before a crash", feed.name, len(lost))
            recovered += len(lost)
            recorded.update(f.fingerprint for f in lost)
    return recovered


def _new_files(
    t: Tables, root: str, feed: Feed, arrived_before: datetime | None = None
) -> tuple[pafs.FileSystem, list[FileOutcome], list[FileOutcome]]:
    """Files to load, and files settled without loading (duplicates of loaded content, empty).
    With ``arrived_before``, only files modified before it: a scheduled run takes the files of
    its data interval and leaves later arrivals to the next run."""
    fs, listed = list_files(root, feed)
    if arrived_before is not None:
        listed = [f for f in listed if f[2] < arrived_before]
    # A pending file (a read that failed) is not settled: it is listed and read again.
    manifest = [r for r in t.manifest if r.feed == feed.name and r.status != "pending"]
    known = {
        (
            r.file_path,
            r.size_bytes,
            r.modified_at.replace(tzinfo=UTC) if r.modified_at.tzinfo is None else r.modified_at,
        )
        for r in manifest
    }
    unseen = [f for f in listed if f not in known]
    seen = {(r.file_path, r.fingerprint) for r in manifest}
    seen_fps = {fp for _, fp in seen}
    todo: list[FileOutcome] = []
    settled: list[FileOutcome] = []
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:  # hashlib releases the GIL
        fps = list(pool.map(lambda f: _fingerprint_or_error(fs, f[0]), unseen))
    for (path, size, mtime), fp in zip(unseen, fps):
        if isinstance(fp, OSError):
            settled.append(FileOutcome(path, "", size, mtime, "pending", error=f"read failed, retried: {fp}"))
            log.warning("%s: %s", path, settled[-1].error)
            continue
        out = FileOutcome(path, fp, size, mtime)
        if (path, fp) in seen:
            continue  # touched, same content: already accounted for
        if fp in seen_fps or fp in {f.fingerprint for f in todo}:
            out.status, out.error = "duplicate_file", "same content as a file already loaded"
            settled.append(out)
        elif size == 0:
            out.status, out.error = "failed", "empty file (0 bytes)"
            settled.append(out)
        else:
            todo.append(out)
    return fs, todo, settled


def _fingerprint_or_error(fs: pafs.FileSystem, path: str) -> str | OSError:
    try:
        return fingerprint(fs, path)
    except OSError as e:
        return e


def _groups(files: list[FileOutcome]) -> list[list[FileOutcome]]:
    groups: list[list[FileOutcome]] = [[]]
    size = 0
    for f in files:
        if groups[-1] and size + f.size > GROUP_BYTES:
            groups.append([])
            size = 0
        groups[-1].append(f)
        size += f.size
    return [g for g in groups if g]


def _key(feed: Feed) -> list[str]:
    return list(feed.contract.primary_key) + ([feed.partition[0]] if feed.partition else [])


def _existing_keys(t: Tables, feed: Feed, batch: pa.Table, also: tuple[str, ...] = ()) -> pa.Table:
    """Keys (and the columns ``also``) already in bronze, read only from the partitions this
    load touches."""
    target = t.spark.table(tables.feed_table(feed))
    if feed.partition:
        part = feed.partition[0]
        dates = pc.unique(batch.column(part)).to_pylist()
        target = target.where(F.col(part).isin(dates))
    columns = [*_key(feed), *also]
    keys = target.select(*columns).toArrow()
    return keys.cast(batch.select(columns).schema)


def _first_new(t: Tables, feed: Feed, rows: pa.Table) -> pa.Table:
    """The rows whose key is neither earlier in the load (rows are in file, line order) nor
    already in bronze."""
    key = _key(feed)
    keys = rows.select(key).append_column("_order", pa.array(np.arange(rows.num_rows)))
    first = keys.group_by(key, use_threads=False).aggregate([("_order", "min")]).column("_order_min")
    rows = rows.take(np.sort(first.to_numpy()))
    existing = _existing_keys(t, feed, rows)
    if existing.num_rows:
        keys = rows.select(key).append_column("_order", pa.array(np.arange(rows.num_rows)))
        kept = keys.join(existing, key, join_type="left anti").column("_order")
        rows = rows.take(np.sort(kept.to_numpy()))
    return rows


def _newest(t: Tables, feed: Feed, rows: pa.Table) -> tuple[pa.Table, pa.Table]:
    """An upsert feed's (rows to apply, rows superseded). Per key, the row with the newest
    version in the load is applied if bronze holds no newer or equal version; an older version
    is superseded; the same version again (in the load or in bronze) is a duplicate, the first
    row of the load (in file, line order) being the one kept."""
    key, version = _key(feed), feed.contract.landing.version_column
    assert version is not None  # the contract requires it for upsert
    k = rows.select([*key, version]).append_column("_order", pa.array(np.arange(rows.num_rows)))
    newest = k.group_by(key, use_threads=False).aggregate([(version, "max")])
    k = k.join(newest, key).sort_by("_order")  # every row meets its key's group: row i at i
    is_newest = pc.equal(k.column(version), k.column(f"{version}_max"))
    superseded = pc.invert(is_newest)
    first = k.filter(is_newest).group_by(key, use_threads=False).aggregate([("_order", "min")])
    candidates = k.take(np.sort(first.column("_order_min").to_numpy())).select([*key, version, "_order"])
    landed = _existing_keys(t, feed, rows, (version,)).rename_columns([*key, "_landed_version"])
    c = candidates.join(landed, key, join_type="left outer")
    # A row loaded before the contract had a version (null) is older than any.
    theirs = c.column("_landed_version")
    newer = pc.fill_null(pc.or_kleene(pc.is_null(theirs), pc.greater(c.column(version), theirs)), False)
    older = pc.fill_null(pc.less(c.column(version), theirs), False)
    apply = np.zeros(rows.num_rows, bool)
    apply[pc.filter(c.column("_order"), newer).to_numpy()] = True
    lost = superseded.to_numpy(zero_copy_only=False).copy()
    lost[pc.filter(c.column("_order"), older).to_numpy()] = True
    return rows.filter(pa.array(apply)), rows.filter(pa.array(lost))


def _merge(t: Tables, feed: Feed, rows: pa.Table, user_metadata: str) -> int:
    """Upsert ``rows`` (one per key) into the feed's table in one MERGE; returns its version.
    The MERGE checks the version again, so an older row never replaces a newer one, whatever
    committed since the rows were picked. Its commit carries the files' counts, as an append's."""
    table, version = tables.feed_table(feed), feed.contract.landing.version_column
    view = "_landing_upsert"
    t.spark.createDataFrame(rows, schema=tables.feed_schema(feed)).createOrReplaceTempView(view)
    on = " and ".join(f"t.{k} = s.{k}" for k in _key(feed))
    conf = "spark.databricks.delta.commitInfo.userMetadata"
    t.spark.conf.set(conf, user_metadata)
    try:
        t.spark.sql(
            f"merge into {table} t using {view} s on {on} "
            f"when matched and (t.{version} is null or s.{version} > t.{version}) then update set * "
            "when not matched then insert *"
        )
    finally:
        t.spark.conf.unset(conf)
        t.spark.catalog.dropTempView(view)
    # The MERGE's own commit (auto compaction may have committed after it).
    for v, info in arrow_delta.recent_commits(t.location(table), RECOVERY_COMMITS):
        if info.get("operation") == "MERGE" and info.get("userMetadata") == user_metadata:
            return v
    raise RuntimeError(f"{table}: the MERGE's commit is not in the table's history")


def _counts(rows: pa.Table | None) -> dict[str, int]:
    """Rows per source file."""
    if rows is None or not rows.num_rows:
        return {}
    counts = rows.group_by("_source_file").aggregate([("_source_file", "count")]).to_pydict()
    return dict(zip(counts["_source_file"], counts["_source_file_count"]))


def _quarantine(t: Tables, feed: Feed, files: list[tuple[FileOutcome, Parsed]], at: datetime) -> None:
    """A file's quarantine rows commit together: after a crash they are either all there or
    none, so a retry appends only for the files that have none (cheaper than a MERGE)."""
    with_bad = [(f, p) for f, p in files if p.bad]
    if not with_bad:
        return
    done = {
        r.fingerprint
        for r in t.spark.table(tables.quarantine_table())
        .where(F.col("fingerprint").isin([f.fingerprint for f, _ in with_bad]))
        .select("fingerprint")
        .distinct()
        .collect()
    }
    rows = [
        {
            "feed": feed.name,
            "file_path": f.path,
            "fingerprint": f.fingerprint,
            "line_number": n,
            "raw_line": line,
            "reason": reason,
            "quarantined_at": at,
        }
        for f, p in with_bad
        if f.fingerprint not in done
        for n, line, reason in p.bad
    ]
    if rows:
        t.append(tables.quarantine_table(), rows, tables.QUARANTINE_SCHEMA)


def _load(t: Tables, fs: pafs.FileSystem, feed: Feed, files: list[FileOutcome], at: datetime) -> int | None:
    """One group of files: parse, quarantine, deduplicate, append. Fills in each file's counts."""
    t0 = time.monotonic()
    # Arrow's readers and gzip release the GIL: files parse side by side, results in path order.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        parsed = list(pool.map(lambda f: parse_file(fs, f, feed), files))
    ok = [(f, p) for f, p in zip(files, parsed) if p is not None]
    log.info("%s: %d files read and checked in %.1fs", feed.name, len(files), time.monotonic() - t0)
    _quarantine(t, feed, ok, at)

    schema = _arrow(tables.feed_schema(feed))
    pieces = []
    for f, p in ok:
        rows = p.rows
        if feed.partition:
            rows = rows.append_column(feed.partition[0], partition_values(rows, feed))
        rows = rows.append_column("_source_file", pa.repeat(pa.scalar(f.path), rows.num_rows))
        pieces.append(rows)
    good = pa.concat_tables(pieces, promote_options="default") if pieces else None
    upsert = feed.contract.landing.mode == "upsert"
    new, superseded = None, None
    if good is not None and good.num_rows:
        new, superseded = _newest(t, feed, good) if upsert else (_first_new(t, feed, good), None)
    landed, lost = _counts(new), _counts(superseded)
    for f, _ in ok:
        f.landed, f.superseded = landed.get(f.path, 0), lost.get(f.path, 0)
        f.duplicates = f.read - f.quarantined - f.landed - f.superseded
    log.info("%s: quarantined and deduplicated at %.1fs", feed.name, time.monotonic() - t0)
    if new is None or not sum(landed.values()):
        return None
    meta = {
        "loader": LOADER_TAG,
        "feed": feed.name,
        "files": {
            f.fingerprint: {
                "path": f.path,
                "size": f.size,
                "modified_at": f.modified_at.isoformat(),
                "read": f.read,
                "landed": f.landed,
                "quarantined": f.quarantined,
                "duplicates": f.duplicates,
                "superseded": f.superseded,
            }
            for f in files
            if f.status == "loaded"
        },
    }
    new = new.append_column("_ingested_at", pa.repeat(pa.scalar(at, pa.timestamp("us", tz="UTC")), new.num_rows))
    out = new.select(schema.names).cast(schema)
    if upsert:
        version = _merge(t, feed, out, json.dumps(meta))
        log.info("%s: %d rows merged at %.1fs", feed.name, out.num_rows, time.monotonic() - t0)
        return version
    version = arrow_delta.append(
        t.spark,
        t.location(tables.feed_table(feed)),
        out,
        schema,
        partition_by=feed.partition[0] if feed.partition else None,
        user_metadata=json.dumps(meta),
        auto_compact=True,
    )
    log.info("%s: %d rows appended at %.1fs", feed.name, out.num_rows, time.monotonic() - t0)
    return version


def load_feed(t: Tables, feed: Feed, root: str | None = None, arrived_before: datetime | None = None) -> FeedResult:
    t0 = time.monotonic()
    root = root or default_root()
    result = FeedResult(feed.name, recovered=recover_unrecorded(t, feed))
    fs, todo, settled = _new_files(t, root, feed, arrived_before)
    result.files = settled + todo
    at = datetime.now(UTC)
    if settled:
        t.record(feed, settled, None, at)
    for group in _groups(todo):
        t.record(feed, group, _load(t, fs, feed, group, at), at)
    result.seconds = time.monotonic() - t0
    return result


def run(
    feeds: list[Feed] | None = None,
    root: str | None = None,
    spark: SparkSession | None = None,
    arrived_before: datetime | None = None,
) -> list[FeedResult]:
    """Load every new file of ``feeds`` (default all), or only those modified before
    ``arrived_before`` (a scheduled run's data interval end)."""
    require_free_space(get_settings().warehouse_dir, "landing loader")
    spark = spark or get_spark("landing-loader", WRITE_ONLY_JVM_OPTIONS)  # its JVM mostly commits
    feeds = feeds or file_feeds()
    for feed in feeds:
        tables.ensure_tables(spark, feed)
    t = Tables(spark)
    return [load_feed(t, f, root, arrived_before) for f in feeds]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feed", action="append", help="qualified feed name (default: every file feed)")
    parser.add_argument("--root", help=f"landing zone root, a path or URI (default {default_root()})")
    parser.add_argument(
        "--interval", type=float, metavar="SECONDS", help="run continuously, looking for new files every SECONDS"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    feeds = [get_feed(n) for n in args.feed] if args.feed else None
    spark = None
    while True:
        results = run(feeds, args.root, spark)
        if args.interval is None:
            break
        spark = spark or get_spark("landing-loader", WRITE_ONLY_JVM_OPTIONS)  # the same session each round
        for r in results:
            if r.files:
                print(r.summary(), flush=True)
        time.sleep(args.interval)
    for r in results:
        print(r.summary())
    print(f"manifest {tables.manifest_table()}, quarantine {tables.quarantine_table()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
