"""The landed-file parser (no JVM): contract checks and their reasons, CSV headers, rescued
columns, exact line numbers, and Arrow's bulk read agreeing with the line-by-line reader."""

from __future__ import annotations

import gzip
import json
import random

import pyarrow as pa
import pytest

from simulator.generator.cli import generate
from simulator.generator.config import GeneratorConfig
from spark_jobs.landing import parse
from spark_jobs.landing.feeds import get_feed
from spark_jobs.landing.parse import parse_lines, parse_text, partition_values

EVENTS, KPIS = get_feed("app.events"), get_feed("network.cell_kpis")
KPI_HEADER = "cell_id,period_start,load_pct,bandwidth_util_pct,active_users,drop_rate_pct,alarm_count"
GOOD = {
    "event_id": "e1",
    "device_id": "d",
    "event_type": "login",
    "event_at": "2026-10-01T09:00:00+08:00",
    "app_version": "1",
    "channel": "app",
}


def _one(line: str, header: str | None = None):
    contract = (KPIS if header else EVENTS).contract
    p = parse_lines([line.encode()], contract, header)
    return p.bad[0][2] if p.bad else p.rows.to_pylist()[0]


@pytest.mark.parametrize(
    "line, reason",
    [
        ('{"event_id": "e1"', "not a JSON object"),
        ("[1, 2]", "not a JSON object"),
        ("", "blank line"),
        (json.dumps({k: v for k, v in GOOD.items() if k != "device_id"}), "column 'device_id': required but missing"),
        (json.dumps(dict(GOOD, event_at="yesterday")), "column 'event_at': cannot read 'yesterday' as timestamptz"),
        (json.dumps(dict(GOOD, event_id="x" * 40)), "column 'event_id': longer than 36 characters"),
        (json.dumps(dict(GOOD, bytes="lots")), "column 'bytes': cannot read 'lots' as bigint"),
        (json.dumps(dict(GOOD, duration_s=2**31)), "column 'duration_s': cannot read '2147483648' as int"),
        (json.dumps(dict(GOOD, bytes=1.5)), "column 'bytes': cannot read '1.5' as bigint"),
    ],
)
def test_json_lines_that_break_the_contract_say_why(line, reason):
    assert _one(line) == reason


def test_a_good_json_line_is_typed_by_the_contract():
    row = _one(json.dumps(dict(GOOD, bytes="12", user_phone=13800000000)))
    assert row["bytes"] == 12 and row["user_phone"] == "13800000000"  # JSON text of a non-string value
    assert row["event_at"].isoformat() == "2026-10-01T01:00:00+00:00"
    assert row["_rescued_data"] is None and row["_line_number"] == 1


def test_an_unknown_json_key_is_rescued():
    row = _one(json.dumps(dict(GOOD, os="android", geo={"lat": 1})))
    assert json.loads(row["_rescued_data"]) == {"os": "android", "geo": '{"lat":1}'}


def test_csv_rows_follow_their_files_header():
    rows = parse_lines(
        [
            b'"C1","2026-10-01 00:15:00",51.5,40.0,12,0.1,0',
            b'"C1","2026-10-01 00:30:00",51.5,40.0',
            b'"C1","2026-10-01 00:45:00",high,40.0,12,0.1,0',
            b"",
        ],
        KPIS.contract,
        KPI_HEADER,
        first_number=2,
    )
    assert [r["_line_number"] for r in rows.rows.to_pylist()] == [2]
    assert rows.rows.to_pylist()[0]["active_users"] == 12
    assert rows.bad == [
        (3, '"C1","2026-10-01 00:30:00",51.5,40.0', "not as many fields as the file's header"),
        (4, '"C1","2026-10-01 00:45:00",high,40.0,12,0.1,0', "column 'load_pct': cannot read 'high' as double"),
        (5, "", "blank line"),
    ]
    extra = _one('"C2","2026-10-01 00:15:00",1,2,3,4,5,"a, ""quoted"" note"', KPI_HEADER + ",vendor_note")
    assert json.loads(extra["_rescued_data"]) == {"vendor_note": 'a, "quoted" note'}
    assert extra["period_start"].isoformat() == "2026-10-01T00:15:00+00:00"  # wall time, stored as UTC


def test_a_csv_file_counts_its_data_lines_and_numbers_them_from_two():
    p = parse_text(f"{KPI_HEADER}\r\nC1,2026-10-01 00:15:00,1,2,3,4,5\r\nC1,x,1,2,3,4,5\r\n".encode(), KPIS)
    assert p.read == 2 and p.rows.column("_line_number").to_pylist() == [2]
    assert p.bad == [(3, "C1,x,1,2,3,4,5", "column 'period_start': cannot read 'x' as timestamp")]


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    root = tmp_path_factory.mktemp("landing")
    generate(GeneratorConfig(scale=0.002, seed=5, days=3), root, load_db=False, show_progress=False)
    events = gzip.decompress(sorted((root / "app" / "events").glob("events_*[0-9].jsonl.gz"))[1].read_bytes())
    kpis = sorted((root / "network" / "cell_kpis").glob("*.csv"))[1].read_bytes()  # the one with an extra column
    return events, kpis


def _line_by_line(monkeypatch):
    def refuse(self, lines):
        raise pa.ArrowInvalid("forced line by line")

    monkeypatch.setattr(parse._Reader, "read", refuse)


@pytest.mark.parametrize("feed", [EVENTS, KPIS], ids=["json", "csv"])
def test_the_bulk_read_and_the_line_by_line_reader_agree_row_for_row(generated, feed, monkeypatch):
    text = generated[0] if feed is EVENTS else generated[1]
    bulk = parse_text(text, feed)
    _line_by_line(monkeypatch)
    single = parse_text(text, feed)
    assert bulk.rows.num_rows > 100 and bulk.read == single.read
    assert bulk.rows.equals(single.rows) and bulk.bad == single.bad


def test_bad_lines_anywhere_in_a_large_file_are_found_at_their_numbers(generated):
    lines = parse.split_lines(generated[0])
    lines = [ln for ln in lines if ln.endswith(b"}")] * 4  # ~thousands of good lines
    rng = random.Random(3)
    planted = sorted(rng.sample(range(len(lines)), 25))
    for i in planted:  # shaped like objects, so only Arrow's refusal finds them
        lines[i] = lines[i].replace(b'"channel":"', b'"channel":1,"x":"', 1)
    p = parse_lines(lines, EVENTS.contract)
    assert [n for n, _, _ in p.bad] == []  # an unknown key is rescued, not quarantined
    assert p.rows.num_rows == len(lines)
    rescued = [
        r["_line_number"] for r in p.rows.select(["_rescued_data", "_line_number"]).to_pylist() if r["_rescued_data"]
    ]
    assert rescued == [i + 1 for i in planted]
    for i in planted:
        lines[i] = lines[i].replace(b'"event_at":"', b'"event_at":"soon', 1)
    p = parse_lines(lines, EVENTS.contract)
    assert [n for n, _, _ in p.bad] == [i + 1 for i in planted]
    assert p.rows.num_rows == len(lines) - len(planted)
    assert p.rows.column("_line_number").to_pylist() == [i + 1 for i in range(len(lines)) if i not in set(planted)]


def test_an_event_lands_in_its_local_business_date():
    rows = parse_lines([json.dumps(dict(GOOD, event_at="2026-09-30T17:30:00Z")).encode()], EVENTS.contract).rows
    assert str(partition_values(rows, EVENTS)[0]) == "2026-10-01"  # 01:30 in Shanghai
