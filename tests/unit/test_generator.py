"""The generator: deterministic, contract-shaped, and its manifest tells the truth.

Defects are found here by scanning the generated tables and files with logic written for the
test (not the generator's), then compared with the manifest.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import re
import zlib
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

from schemas.contracts import get_contract, load_contracts
from simulator.generator.cli import MANIFEST_NAME, build_tables, generate, main
from simulator.generator.config import DefectRates, GeneratorConfig, GeneratorError
from simulator.generator.manifest import Manifest

CFG = GeneratorConfig(scale=0.002, seed=11, days=5)
MOBILE = re.compile(r"^1[3-9]\d{9}$")


def normalise(phone: str | None) -> str | None:
    """The test's own normalisation: strip separators and a +86 / 0086 / 86 prefix."""
    if phone is None:
        return None
    digits = re.sub(r"[\s\-+]", "", phone)
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and len(digits) == 11 + len(prefix):
            digits = digits[len(prefix) :]
    return digits if MOBILE.match(digits) else None


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    root = tmp_path_factory.mktemp("landing")
    generate(CFG, root, load_db=False, show_progress=False)
    tables, _, _ = build_tables(CFG, Manifest(CFG.seed, CFG.scale))
    return root, json.loads((root / MANIFEST_NAME).read_text()), {k: t.to_pylist() for k, t in tables.items()}


def _tree_digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode() + p.read_bytes())
    return h.hexdigest()


def test_same_seed_same_bytes_other_seed_other_data(tmp_path, generated):
    root, _, _ = generated
    again = tmp_path / "again"
    generate(CFG, again, load_db=False, show_progress=False)
    assert _tree_digest(again) == _tree_digest(root)
    other = tmp_path / "other"
    generate(GeneratorConfig(scale=0.002, seed=12, days=5), other, load_db=False, show_progress=False)
    assert _tree_digest(other) != _tree_digest(root)


def test_tables_match_their_contracts(generated):
    _, _, tables = generated
    for name, rows in tables.items():
        contract = get_contract(name)
        assert list(rows[0]) == contract.column_names, name
        for col in contract.columns:
            values = [r[col.name] for r in rows]
            if not col.nullable:
                assert None not in values, f"{name}.{col.name} has nulls"
            if col.allowed:
                assert {str(v) for v in values if v is not None} <= set(col.allowed), f"{name}.{col.name}"
            if col.pattern:
                assert all(re.match(col.pattern, v) for v in values), f"{name}.{col.name} pattern"
        keys = [tuple(r[k] for k in contract.primary_key) for r in rows]
        assert len(keys) == len(set(keys)), f"{name} key not unique"


def test_crm_phone_defects_match_the_manifest(generated):
    _, manifest, tables = generated
    customers = tables["crm.customers"]
    nulls = [c["customer_id"] for c in customers if c["phone"] is None]
    malformed = [c["customer_id"] for c in customers if c["phone"] is not None and normalise(c["phone"]) is None]
    variants = [
        c["customer_id"]
        for c in customers
        if c["phone"] is not None and normalise(c["phone"]) and not MOBILE.match(c["phone"])
    ]
    d = manifest["defects"]
    assert nulls == d["null_phone"]["keys"] and len(nulls) == d["null_phone"]["count"] > 0
    assert malformed == d["malformed_phone"]["keys"] and len(malformed) > 0
    assert variants == d["phone_format_variants"]["keys"] and len(variants) > 0


def test_order_defects_match_the_manifest(generated):
    _, manifest, tables = generated
    price = {p["product_id"]: p["price"] for p in tables["bss.products"]}
    orders = tables["bss.orders"]
    mismatched = sorted(o["order_id"] for o in orders if o["amount"] != price[o["product_id"]])
    known = {s["phone"] for s in tables["bss.subscribers"]} | {normalise(c["phone"]) for c in tables["crm.customers"]}
    orphans = sorted(o["order_id"] for o in orders if o["phone"] not in known)
    assert mismatched == sorted(manifest["defects"]["amount_mismatch"]["keys"]) and mismatched
    assert orphans == sorted(manifest["defects"]["orphan_orders"]["keys"]) and orphans
    for o in orders:  # business type + creation date + serial
        assert o["order_id"].startswith(o["business_type"] + o["created_at"].strftime("%Y%m%d"))


def test_gender_mismatch_matches_the_manifest(generated):
    _, manifest, tables = generated
    crm = {normalise(c["phone"]): c["gender"] for c in tables["crm.customers"] if normalise(c["phone"])}
    iso = {"1": "M", "2": "F", "0": "U"}
    mismatched = sorted(
        s["phone"]
        for s in tables["bss.subscribers"]
        if s["phone"] in crm and "U" not in (crm[s["phone"]], iso[s["gender"]]) and crm[s["phone"]] != iso[s["gender"]]
    )
    assert mismatched == sorted(manifest["defects"]["gender_mismatch"]["keys"]) and mismatched


def _read_event_files(root: Path):
    """Per file: parsed events in order, malformed line numbers, and whether the gzip is cut."""
    out = {}
    for path in sorted((root / "app" / "events").glob("*.jsonl.gz")):
        rel = str(path.relative_to(root))
        try:
            text = gzip.decompress(path.read_bytes()).decode()
        except (EOFError, zlib.error, OSError):
            out[rel] = {"truncated": True}
            continue
        events, bad = [], []
        for n, line in enumerate(text.splitlines(), start=1):
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                bad.append(n)
        out[rel] = {"truncated": False, "events": events, "bad": bad, "lines": len(text.splitlines())}
    return out


def test_app_file_defects_match_the_manifest(generated):
    root, manifest, _ = generated
    files = _read_event_files(root)
    d = manifest["defects"]
    assert sorted(f for f, v in files.items() if v["truncated"]) == d["truncated_gzip"]["keys"]
    assert sorted(f for f, v in files.items() if not v["truncated"] and v["lines"] == 0) == d["empty_files"]["keys"]
    readable = {f: v for f, v in files.items() if not v["truncated"]}
    assert sorted([f, n] for f, v in readable.items() for n in v["bad"]) == sorted(
        [k[0], k[1]] for k in d["malformed_json_lines"]["keys"]
    )
    ids = Counter(e["event_id"] for v in readable.values() for e in v["events"])
    assert sorted(i for i, c in ids.items() for _ in range(c - 1)) == sorted(d["duplicate_events"]["keys"])
    late, ooo = set(), 0
    for f, v in readable.items():
        day = re.search(r"events_(\d{8})", f).group(1)
        times = [datetime.fromisoformat(e["event_at"]) for e in v["events"]]
        late |= {e["event_id"] for e, t in zip(v["events"], times) if t.strftime("%Y%m%d") < day}
        ooo += sum(1 for a, b in zip(times, times[1:]) if b < a)
    assert late == set(d["late_events"]["keys"]) and late
    assert ooo == d["out_of_order_events"]["count"] > 0
    variants = {e["event_id"] for v in readable.values() for e in v["events"] if not MOBILE.match(e["user_phone"])}
    assert variants == set(d["app_phone_format_variants"]["keys"])


def test_event_lines_carry_exactly_the_contract_fields(generated):
    root, _, _ = generated
    contract = get_contract("app.events")
    events = _read_event_files(root)
    sample = next(v["events"][0] for v in events.values() if not v["truncated"] and v["events"])
    assert list(sample) == contract.column_names
    assert {sample["event_type"] for v in events.values() if not v["truncated"] for sample in v["events"]} <= set(
        contract.column("event_type").allowed
    )


def test_kpi_csvs_have_the_contract_header_but_the_planted_extra_column(generated):
    root, manifest, _ = generated
    contract = get_contract("network.cell_kpis")
    headers = {
        str(p.relative_to(root)): next(csv.reader(p.open())) for p in (root / "network" / "cell_kpis").glob("*.csv")
    }
    extra = sorted(f for f, h in headers.items() if h != contract.column_names)
    assert extra == manifest["defects"]["csv_extra_column"]["keys"]
    assert all(headers[f] == contract.column_names + ["vendor_note"] for f in extra)
    cells_header = next(csv.reader(next((root / "network" / "cells").glob("*.csv")).open()))
    assert cells_header == get_contract("network.cells").column_names


def test_manifest_row_counts_are_the_rows_written(generated):
    root, manifest, tables = generated
    for name, rows in tables.items():
        assert manifest["rows"][name] == len(rows)
    kpi_rows = sum(sum(1 for _ in p.open()) - 1 for p in (root / "network" / "cell_kpis").glob("*.csv"))
    assert manifest["rows"]["network.cell_kpis"] == kpi_rows == CFG.n_cells * 96 * CFG.days


def test_clean_data_has_no_defects(tmp_path):
    m = generate(
        GeneratorConfig(scale=0.001, seed=3, days=3, defects=DefectRates.none()),
        tmp_path / "l",
        load_db=False,
        show_progress=False,
    )
    assert {k: v["count"] for k, v in m.defects.items() if v["count"]} == {}


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"scale": 0}, "scale must be > 0"),
        ({"scale": 0.0001}, "smallest is 20"),
        ({"days": 1}, "days must be between 3 and 92"),
        ({"seed": -1}, "seed must be a non-negative integer"),
    ],
)
def test_bad_config_is_refused(kwargs, message):
    with pytest.raises(GeneratorError, match=message):
        GeneratorConfig(**kwargs)


def test_bad_defect_rates_are_refused():
    with pytest.raises(GeneratorError, match="null_phone must be between 0 and 0.5"):
        DefectRates(null_phone=0.9)
    with pytest.raises(GeneratorError, match="number of files"):
        DefectRates(truncated_gzip_files=-1)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--scale", "-1"], "scale must be > 0"),
        (["--defect", "bogus=1"], "unknown defect 'bogus'"),
        (["--defect", "null_phone=lots"], "needs a number"),
    ],
)
def test_cli_rejects_bad_arguments_with_a_clear_message(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--no-db", "--no-files"])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_cli_refuses_to_clear_a_folder_it_did_not_write(tmp_path, capsys):
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(SystemExit):
        main(["--scale", "0.001", "--days", "3", "--no-db", "--landing", str(tmp_path)])
    assert (tmp_path / "precious.txt").exists()
    assert "refusing to replace" in capsys.readouterr().err


def test_every_contract_is_generated():
    generated_names = {
        "crm.customers",
        "crm.service_tickets",
        "bss.products",
        "bss.subscribers",
        "bss.orders",
        "bss.monthly_usage",
        "network.cells",
        "network.cell_kpis",
        "app.events",
    }
    assert {c.qualified_name for c in load_contracts()} == generated_names
