"""The bad-input corpus of landed files (``tests/data/bad_inputs/files/manifest.yaml``): each kind
goes through the real loader into an empty feed folder, and lands, is quarantined with its
reason, or fails or waits as a file with its reason, counted exactly; no kind crashes a run."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest
import yaml

from spark_jobs.landing import loader, tables
from spark_jobs.landing.feeds import get_feed
from spark_jobs.landing.loader import FeedResult, run

pytestmark = pytest.mark.spark
CORPUS = Path(__file__).resolve().parents[1] / "data" / "bad_inputs" / "files"
KINDS = yaml.safe_load((CORPUS / "manifest.yaml").read_text())["kinds"]
COUNTS = ("loaded", "failed", "pending", "read", "landed", "quarantined", "duplicates", "superseded", "rescued")
OUTCOMES: dict[str, tuple[str, dict, str]] = {}  # kind -> (files' outcome, rows' counts, reasons), for the table


def _generate(spec: dict, folder: Path) -> None:
    """Good event lines around one line of exactly ``long_line_bytes`` (its device_id padded)."""
    good = [_event(f"bad-long-{i}") for i in range(spec["good_lines"])]
    long = _event("bad-long-x", device_id="")
    long = _event("bad-long-x", device_id="x" * (spec["long_line_bytes"] - len(long)))
    assert len(long) == spec["long_line_bytes"]
    lines = [good[0], long, *good[1:]]
    (folder / spec["name"]).write_bytes(gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0))


def _event(event_id: str, **values) -> str:
    event = {
        "event_id": event_id,
        "user_phone": "13800000000",
        "device_id": "d1",
        "event_type": "login",
        "event_at": "2026-10-01T09:00:00.000+08:00",
        "app_version": "9.9.0",
        "channel": "app",
        "bytes": 10,
        "duration_s": 2,
    }
    return json.dumps({**event, **values}, separators=(",", ":"))


def _counts(spark, result: FeedResult, root: Path, feed) -> dict[str, int]:
    statuses = [f.status for f in result.files]
    counts = {s: statuses.count(s) for s in ("loaded", "failed", "pending")}
    for name, attr in (("read", "read"), ("landed", "landed"), ("quarantined", "quarantined")):
        counts[name] = result.total(attr)
    counts["duplicates"], counts["superseded"] = result.total("duplicates"), result.total("superseded")
    rows = spark.table(tables.feed_table(feed)).where(f"_source_file like 'file://{root}/%'")
    in_bronze, counts["rescued"] = rows.selectExpr("count(*)", "count(_rescued_data)").first()
    assert in_bronze == counts["landed"], "every landed row is in bronze, and no other"
    return counts


def _reasons(spark, result: FeedResult, root: Path) -> list[str]:
    quarantined = spark.table(tables.quarantine_table()).where(f"file_path like 'file://{root}/%'").collect()
    return [q.reason for q in quarantined] + [f.error for f in result.files if f.error]


@pytest.mark.parametrize("kind", KINDS, ids=[k["id"] for k in KINDS])
def test_each_bad_input_kind_is_landed_quarantined_or_failed_as_expected(spark, kind, tmp_path, monkeypatch):
    feed = get_feed(kind["feed"])
    root = tmp_path / "landing"
    folder = root / feed.subdir
    folder.mkdir(parents=True)
    for entry in kind.get("files", []):
        src, name = (entry, entry) if isinstance(entry, str) else (entry["src"], entry["as"])
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(CORPUS / src, folder / name)
    if "generate" in kind:
        _generate(kind["generate"], folder)
    if "max_line_bytes" in kind:
        monkeypatch.setenv("LAKEHOUSE_LANDING_MAX_LINE_BYTES", str(kind["max_line_bytes"]))
    if "while_reading" in kind:
        real_read, tail = loader.read_file, (CORPUS / kind["while_reading"]["append"]).read_bytes()

        def writer_appends(fs, path, feed_):
            with open(path.split("://", 1)[1], "ab") as f:  # after the listing, before the read
                f.write(tail)
            monkeypatch.setattr(loader, "read_file", real_read)
            return real_read(fs, path, feed_)

        monkeypatch.setattr(loader, "read_file", writer_appends)

    [result] = run([feed], root=str(root), spark=spark)
    counts, reasons = _counts(spark, result, root, feed), _reasons(spark, result, root)
    expected = {c: kind["expect"].get(c, 0) for c in COUNTS}
    assert counts == expected, (counts, reasons)
    for f in result.files:
        assert f.read == f.landed + f.quarantined + f.duplicates + f.superseded, f
    if "reason" in kind:
        assert any(kind["reason"] in r for r in reasons), reasons
    elif "then" not in kind:
        assert not reasons, reasons
    outcome = _files(counts)
    if "then" in kind:  # the writer has finished: the next run takes the whole file
        [result] = run([feed], root=str(root), spark=spark)
        counts = _counts(spark, result, root, feed)
        assert counts == {c: kind["then"].get(c, 0) for c in COUNTS}, counts
        outcome += f", then {_files(counts)}"
    OUTCOMES[kind["id"]] = (outcome, counts, "; ".join(sorted(set(reasons)))[:80])


def _files(counts: dict[str, int]) -> str:
    return ", ".join(f"{counts[s]} {s}" for s in ("loaded", "failed", "pending") if counts[s]) or "none listed"


def test_the_corpus_has_every_kind_and_prints_its_table(capsys):
    """The corpus table (kind, outcome, rows) of the kinds run above."""
    assert len(KINDS) >= 18 and len({k["id"] for k in KINDS}) == len(KINDS)
    lines = [
        f"{'kind':<24} {'feed':<18} {'files':<28} {'read':>4} {'land':>4} {'quar':>4} {'dup':>4} {'sup':>4}  reason"
    ]
    for k in KINDS:
        if k["id"] not in OUTCOMES:
            continue  # not selected in this session
        files, c, reason = OUTCOMES[k["id"]]
        lines.append(
            f"{k['id']:<24} {k['feed']:<18} {files:<28} {c['read']:>4} {c['landed']:>4} {c['quarantined']:>4} "
            f"{c['duplicates']:>4} {c['superseded']:>4}  {reason}"
        )
    with capsys.disabled():
        print("\n" + "\n".join(lines))
