"""Fingerprints of every gold table, to show that two stacks built the same gold: the local
profile and the cluster profile (infra/cluster.env) from the same generated sources.

``python -m lakehouse.gold_hashes write FILE`` fingerprints the running stack's gold schema (through
its Thrift server) into FILE; ``python -m lakehouse.gold_hashes compare A B`` says which tables
differ and exits 1 if any does.

A table's fingerprint is its row count and two order-free sums of one hash per row (the sum and
the XOR of ``xxhash64`` over the row's columns): the same multiset of rows gives the same
fingerprint whatever the files, partitions or row order. Not hashed:

- lineage columns (names starting with ``_``: ``_built_at``, Kafka offsets, load times), which
  say when and through which partition a row came, not what it holds;
- the run's identity (``RUN_COLUMNS``: a model's version, a score's time);
- digits past ``DOUBLE_DIGITS`` of a floating-point value: a sum's last bits depend on the
  order its partitions are added in, which a cluster does not fix.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from core.settings import get_settings
from core.sql import thrift_query

RUN_COLUMNS = frozenset({"model_version", "scored_at", "trained_at", "run_id", "computed_at"})
DOUBLE_DIGITS = 6

Query = Callable[[str], list[tuple]]


def column_expr(name: str, data_type: str) -> str | None:
    """What of column ``name`` goes into the row hash (None: nothing)."""
    if name.startswith("_") or name in RUN_COLUMNS:
        return None
    quoted = f"`{name}`"
    t = data_type.lower()
    if t in ("double", "float"):
        return f"round({quoted}, {DOUBLE_DIGITS})"
    if t.startswith("map<") or "map<" in t:  # Spark refuses to hash maps; their JSON is canonical
        return f"to_json({quoted})"
    return quoted


def fingerprint_sql(table: str, columns: list[tuple[str, str]]) -> str:
    exprs = [e for name, data_type in columns if (e := column_expr(name, data_type)) is not None]
    h = f"xxhash64({', '.join(exprs)})" if exprs else "0"
    return (
        f"select count(*), cast(coalesce(sum(cast({h} as decimal(38, 0))), 0) as string), "
        f"coalesce(bit_xor({h}), 0) from {table}"
    )


def _columns(query: Query, table: str) -> list[tuple[str, str]]:
    cols = []
    for name, data_type, *_ in query(f"describe {table}"):
        if not name or name.startswith("#"):  # partition and detail sections follow the columns
            break
        cols.append((name, data_type))
    return cols


def fingerprints(schema: str | None = None, query: Query = thrift_query) -> dict[str, dict]:
    """``{table: {"rows", "sum", "xor", "columns"}}`` for every table of ``schema`` (default gold)."""
    schema = schema or f"{get_settings().schema_prefix}gold"
    out = {}
    for row in sorted(query(f"show tables in {schema}"), key=lambda r: r[1]):
        name, temporary = row[1], row[2]
        if temporary:
            continue
        table = f"{schema}.{name}"
        columns = _columns(query, table)
        rows, total, xor = query(fingerprint_sql(table, columns))[0]
        hashed = [n for n, t in columns if column_expr(n, t) is not None]
        out[name] = {"rows": int(rows), "sum": str(total), "xor": int(xor), "columns": hashed}
    return out


def compare(a: dict[str, dict], b: dict[str, dict]) -> list[str]:
    """One line per difference: a table in one only, or with other columns, rows or hashes."""
    diffs = [f"{t}: only in the first" for t in sorted(set(a) - set(b))]
    diffs += [f"{t}: only in the second" for t in sorted(set(b) - set(a))]
    for t in sorted(set(a) & set(b)):
        x, y = a[t], b[t]
        if x["columns"] != y["columns"]:
            diffs.append(f"{t}: columns differ ({x['columns']} vs {y['columns']})")
        elif x["rows"] != y["rows"]:
            diffs.append(f"{t}: {x['rows']} rows vs {y['rows']}")
        elif (x["sum"], x["xor"]) != (y["sum"], y["xor"]):
            diffs.append(f"{t}: same {x['rows']} rows count, other contents")
    return diffs


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("write", help="fingerprint the running stack's gold into FILE")
    w.add_argument("file", type=Path)
    w.add_argument("--schema")
    c = sub.add_parser("compare", help="compare two fingerprint files; exit 1 on any difference")
    c.add_argument("a", type=Path)
    c.add_argument("b", type=Path)
    args = p.parse_args(argv)
    if args.cmd == "write":
        prints = fingerprints(args.schema)
        args.file.parent.mkdir(parents=True, exist_ok=True)
        args.file.write_text(json.dumps({"profile": get_settings().profile, "tables": prints}, indent=1))
        rows = sum(t["rows"] for t in prints.values())
        print(f"gold_hashes: {len(prints)} tables, {rows:,} rows fingerprinted into {args.file}")
        return 0
    a, b = (json.loads(f.read_text()) for f in (args.a, args.b))
    diffs = compare(a["tables"], b["tables"])
    for line in diffs:
        print(f"  differs: {line}")
    same = len(set(a["tables"]) & set(b["tables"])) - sum(1 for d in diffs if "only in" not in d)
    print(f"gold_hashes: {a['profile']} vs {b['profile']}: {same} tables the same, {len(diffs)} differ")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
